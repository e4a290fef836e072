"""The search index behind :class:`~utils.faces.database.FaceDatabase`: exact for small galleries, FAISS for large.

A 1:K search compares the probe with every enrolled vector: 16.6 ms per probe against 10^6 faces
on two CPU cores, growing linearly with K. An approximate nearest-neighbour (ANN) index from FAISS
looks at a small part of the gallery instead. The database keeps its own float32 matrix and asks
the index only for *candidates*: the best :data:`RERANK` rows by the index's (approximate)
distance. It then re-ranks those candidates with exact distances, so the distance it answers and
the accept/reject decision at the threshold are exact; only *which* vectors were considered is
approximate (measured as recall@1 against exact search).

Kinds (``FaceDatabase(index=...)``):

* ``"exact"`` -- no index: one matrix-vector product over all vectors (the database's own code).
* ``"ivf-pq"`` (the default approximate kind) -- ``IndexIVFPQFastScan``: k-means splits the
  gallery into ``nlist`` lists (a power of two near ``2 sqrt(K)``, 2048 at 10^6); each vector is
  stored as 64 four-bit product-quantiser codes (32 bytes instead of 512) scanned with SIMD
  look-up tables; a probe scans the ``nlist / 6`` nearest lists (``nlist / 4`` below 2048 lists, at least 32).
* ``"ivf-flat"`` -- the same lists holding full float32 vectors (512 bytes each).
* ``"hnsw"`` -- a navigable small-world graph (32 neighbours, ``efSearch`` 256) over full vectors.
* ``"auto"`` -- exact below :data:`AUTO_APPROXIMATE_FROM` vectors, ``"ivf-pq"`` from there on.

Why IVF-PQ (``docs/SCALING.md`` has the figures): on this project's benchmark (10^6 vectors drawn
from the distribution of the dlib encodings of LFW, probes = held-out LFW photos), measured on 2
CPU cores shared with other jobs (times 2-3x inflated and noisy; recall and memory are not),
IVF-PQ with 2048 lists, 341 probed and 128 candidates re-ranked reached recall@1 1.0000 (genuine
probes) / 0.9926 (impostors) at 1.6 ms per probe against 33 ms for exact search, built in 15 s
and takes 42 MB. IVF-Flat with the same lists has the same recall (the lists, not the codes,
limit recall once candidates are re-ranked) but scans 16x more bytes (14.9 ms) and holds a
second 512 MB copy of the vectors. HNSW needed ``efSearch`` 256 for recall 0.997 at 10^5
(1.3 ms there, IVF-PQ 0.45 ms), built 15-30x slower (minutes at 10^6, over the 2-minute goal),
costs 790 bytes per vector and cannot remove vectors (FAISS's HNSW has no ``remove_ids``).

Enrollment is incremental: new vectors are added to the trained index (IVF lists do not need
retraining for a few more people). The index is rebuilt, automatically at the next search, when
the gallery has grown or shrunk so much that another ``nlist`` fits (x4 the vectors, so the cost
is amortised) or when a quarter of an HNSW graph is removed vectors. Removal is physical for IVF;
HNSW keeps removed vectors as tombstones that the database filters out.

The index is saved in FAISS's own format (``faiss.serialize_index``; no pickle) beside the
database (:func:`index_path`: ``faces.npz.faiss``) and the database file records its SHA-256
(:meth:`ApproximateIndex.save`, :meth:`ApproximateIndex.load`): an index whose bytes do not match
is stale or corrupt and is never read into FAISS.

FAISS is imported on first use, so ``import utils.faces`` stays cheap and a course setup without
``faiss-cpu`` works with exact search.

Example:
    >>> from utils.faces import index
    >>> index.resolve_kind("auto", 10_000), index.resolve_kind("auto", 10**6)
    ('exact', 'ivf-pq')
    >>> index.list_count(10**6), index.probe_count(index.list_count(10**6))
    (2048, 341)
    >>> rng = np.random.default_rng(0)
    >>> vectors = rng.normal(0, 0.1, (5000, 128)).astype(np.float32)
    >>> ann = ApproximateIndex.build("ivf-pq", vectors, np.arange(5000))
    >>> ann.kind, ann.size, ann.lists
    ('ivf-pq', 5000, 128)
    >>> int(ann.search(vectors[17:18], 8)[0, 0])      # candidates: stable row ids
    17
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from pathlib import Path

import numpy as np

from utils import files
from utils.errors import DatabaseError, UsageError

__all__ = [
    "KINDS",
    "APPROXIMATE_KINDS",
    "AUTO_APPROXIMATE_FROM",
    "MIN_VECTORS",
    "RERANK",
    "ApproximateIndex",
    "faiss_available",
    "index_path",
    "list_count",
    "probe_count",
    "resolve_kind",
    "squared_distances",
]

#: Every value of ``FaceDatabase(index=...)``.
KINDS = ("auto", "exact", "ivf-pq", "ivf-flat", "hnsw")

#: The kinds that use FAISS.
APPROXIMATE_KINDS = ("ivf-pq", "ivf-flat", "hnsw")

#: ``"auto"`` switches to the approximate index from this many vectors on: exact search then costs
#: about 4 ms per probe on 2 cores (16.6 ms at 10^6), and building the index about 10 s. It drops
#: the index again below half of it (so a gallery at the boundary is not rebuilt back and forth).
AUTO_APPROXIMATE_FROM = 250_000

#: Below this many vectors no approximate index is built, whatever the kind: exact search takes
#: microseconds and k-means needs data to train on.
MIN_VECTORS = 1_000

#: Candidates the index proposes per probe; the database re-ranks them with exact distances.
RERANK = 128

#: An IVF probe scans a quarter of the lists, a sixth from 2048 lists (10^6 vectors) on, and at
#: least 32 lists. Measured recall@1 (genuine / impostor probes, after re-ranking): 10^3 vectors,
#: 16 lists: 4 probed 0.969 / 0.877, 8 probed 0.995 / 0.983; 3000 vectors, 64 lists: 16 probed
#: 0.989 / 0.952, 32 probed 0.999 / 1.000; 10^4, 256 lists: 1/6 0.991 / 0.955, 1/4 0.996 / 0.987;
#: 10^5, 512 lists: 1/6 0.991 / 0.985, 1/4 0.999 / 0.996; 10^6, 2048 lists: 1/8 0.995 / 0.985,
#: 1/6 0.999 / 0.994; 4096 lists: 1/6 1.000 / 0.998.
PROBE_DIVISOR_SMALL, PROBE_DIVISOR_LARGE, LARGE_LISTS, MIN_PROBES = 4, 6, 2048, 32

#: k-means is trained on at most this many vectors per list, with this many iterations (10 gave
#: the same recall as FAISS's default 25 on the benchmark; training time is proportional to them).
TRAINING_POINTS_PER_LIST = 40
KMEANS_ITERATIONS = 10

#: IVF-PQ codes: 64 sub-quantisers of 4 bits = 32 bytes per vector (the "fast scan" layout).
PQ_SUBQUANTIZERS = 64

#: HNSW graph: neighbours per node, and the breadth of the search at build and query time.
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 256

#: HNSW cannot delete; it is rebuilt when this fraction of its nodes are removed vectors.
DEAD_FRACTION = 0.25

#: Suffix of the index file beside the database.
INDEX_SUFFIX = ".faiss"

_CANDIDATE_PROBES = 4_096  # probes per FAISS call in a batch search
_FEW_PROBES = 8  # fewer probes than this run on one thread (see _threads_for)
_warned_missing_faiss = False
_faiss_module = None


def _faiss():
    global _faiss_module
    if _faiss_module is not None:
        return _faiss_module
    # FAISS runs on OpenMP. Spinning OpenMP threads make it ~10x slower whenever other processes
    # keep the cores busy (measured: building a 20,000-vector IVF-PQ index took 7-15 s instead of
    # 1 s on 2 shared cores); sleeping at barriers costs nothing measurable in its large parallel
    # regions. An explicit OMP_WAIT_POLICY of the user's wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import faiss  # deferred: optional dependency, needed only for an approximate index
    except ImportError as error:  # pragma: no cover - faiss-cpu is in requirements.txt
        raise UsageError(
            "an approximate face index needs FAISS: pip install faiss-cpu (or use FaceDatabase(index='exact'))"
        ) from error
    _faiss_module = faiss
    return faiss


def faiss_available() -> bool:
    """Whether ``faiss`` can be imported (``"auto"`` falls back to exact search without it)."""
    try:
        _faiss()
    except UsageError:
        return False
    return True


def check_kind(kind: str) -> str:
    """``kind`` if it is one of :data:`KINDS`, else a :class:`utils.errors.UsageError`."""
    if kind not in KINDS:
        raise UsageError(f"index must be one of {', '.join(KINDS)}; got {kind!r}")
    return kind


def resolve_kind(requested: str, num_vectors: int, current: str | None = None) -> str:
    """The kind of search to run for ``num_vectors`` vectors: ``"exact"`` or an approximate kind.

    Args:
        requested: one of :data:`KINDS`.
        num_vectors: vectors in the gallery.
        current: the approximate kind already built, if any (``"auto"`` keeps it down to half of
            :data:`AUTO_APPROXIMATE_FROM`).

    Example:
        >>> resolve_kind("hnsw", 500), resolve_kind("hnsw", 5000), resolve_kind("exact", 10**7)
        ('exact', 'hnsw', 'exact')
        >>> resolve_kind("auto", 200_000), resolve_kind("auto", 200_000, current="ivf-pq")
        ('exact', 'ivf-pq')
    """
    global _warned_missing_faiss
    check_kind(requested)
    if requested == "exact" or num_vectors < MIN_VECTORS:
        return "exact"
    if requested != "auto":
        return requested
    keep = current in APPROXIMATE_KINDS and num_vectors >= AUTO_APPROXIMATE_FROM // 2
    if not keep and num_vectors < AUTO_APPROXIMATE_FROM:
        return "exact"
    if not faiss_available():
        if not _warned_missing_faiss:
            warnings.warn(
                f"{num_vectors:,} enrolled vectors would use an approximate index, but FAISS is not "
                "installed (pip install faiss-cpu); searching exactly",
                stacklevel=3,
            )
            _warned_missing_faiss = True
        return "exact"
    return current if keep else "ivf-pq"


def list_count(num_vectors: int) -> int:
    """IVF lists for ``num_vectors``: the power of two nearest ``2 sqrt(K)``, with >= 39 vectors per list.

    Example:
        >>> [list_count(k) for k in (1_000, 10_000, 250_000, 10**6, 10**8)]
        [16, 256, 1024, 2048, 16384]
    """
    if num_vectors < 1:
        return 1
    ideal = 2 ** round(math.log2(2 * math.sqrt(num_vectors)))
    most = 2 ** max(0, math.floor(math.log2(max(1, num_vectors // 39))))  # FAISS wants >= 39 per list
    return int(max(1, min(ideal, most, 1 << 20)))


def probe_count(lists: int) -> int:
    """Lists scanned per probe: a quarter, a sixth from :data:`LARGE_LISTS` lists on, at least :data:`MIN_PROBES`.

    Example:
        >>> probe_count(16), probe_count(64), probe_count(256), probe_count(2048)
        (16, 32, 64, 341)
    """
    share = lists // (PROBE_DIVISOR_LARGE if lists >= LARGE_LISTS else PROBE_DIVISOR_SMALL)
    return max(1, min(lists, max(MIN_PROBES, share)))


def index_path(database_path) -> Path:
    """Where the index of the database at ``database_path`` lives: ``faces.npz`` -> ``faces.npz.faiss``."""
    database_path = Path(database_path)
    return database_path.with_name(database_path.name + INDEX_SUFFIX)


class _threads_for:
    """Context: one OpenMP thread for a handful of probes, FAISS's setting otherwise.

    FAISS parallelises over probes: for one probe a second thread has nothing to do, yet waking it
    and waiting for it at the barrier costs up to a scheduler time slice when the cores are busy
    (measured: 270 us instead of 11 us for re-ranking one probe's candidates). A class rather than
    a generator: this runs twice per query and costs 0.3 us instead of 3 us.
    """

    __slots__ = ("_faiss", "_restore")

    def __init__(self, probes: int):
        self._faiss = _faiss()
        self._restore = 0
        if probes < _FEW_PROBES:
            threads = self._faiss.omp_get_max_threads()
            if threads > 1:
                self._faiss.omp_set_num_threads(1)
                self._restore = threads

    def __enter__(self):
        return self

    def __exit__(self, *exception) -> None:
        if self._restore:
            self._faiss.omp_set_num_threads(self._restore)


def squared_distances(probes: np.ndarray, vectors: np.ndarray, rows: np.ndarray, check: bool = True) -> np.ndarray:
    """Exact squared distances from ``probes[i]`` to ``vectors[rows[i, j]]``, shape ``rows.shape``.

    The re-ranking step: FAISS's ``fvec_L2sqr_by_idx`` reads the candidate rows in place (75x
    faster than gathering them into a NumPy array first, measured at 128 candidates per probe).

    Args:
        probes: float32 ``(n, d)``.
        vectors: float32 ``(N, d)``, C-contiguous (the database's matrix).
        rows: int64 ``(n, c)``, every value in ``[0, N)``.
        check: verify the arguments (the database, which knows them to be right, skips it).

    Example:
        >>> vectors = np.eye(3, 4, dtype=np.float32)
        >>> squared_distances(np.zeros((1, 4), np.float32), vectors, np.array([[2, 0]])).tolist()
        [[1.0, 1.0]]
    """
    faiss = _faiss()
    probes = np.ascontiguousarray(probes, dtype=np.float32)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if check:
        if not (vectors.dtype == np.float32 and vectors.flags.c_contiguous):
            raise UsageError("squared_distances needs a C-contiguous float32 matrix of vectors")
        if rows.shape[:1] != probes.shape[:1] or (rows.size and (rows.min() < 0 or rows.max() >= len(vectors))):
            raise UsageError(
                f"squared_distances: rows {rows.shape} do not index {len(vectors)} vectors for {len(probes)} probes"
            )
    output = np.empty(rows.shape, dtype=np.float32)
    if rows.size:
        with _threads_for(len(probes)):
            faiss.fvec_L2sqr_by_idx(
                faiss.swig_ptr(output),
                faiss.swig_ptr(probes),
                faiss.swig_ptr(vectors),
                faiss.swig_ptr(rows),
                vectors.shape[1],
                rows.shape[0],
                rows.shape[1],
            )
    return output


def _sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


class ApproximateIndex:
    """A FAISS index over a gallery's vectors, keyed by the database's stable row ids.

    Build it with :meth:`build`; the database keeps it up to date with :meth:`add` and
    :meth:`remove` and asks it for candidates with :meth:`search`.

    Args:
        faiss_index: an index made by :meth:`build` (or read by :meth:`load`).
        kind: its kind, one of :data:`APPROXIMATE_KINDS`.
    """

    def __init__(self, faiss_index, kind: str):
        if kind not in APPROXIMATE_KINDS:
            raise UsageError(f"approximate index kind must be one of {', '.join(APPROXIMATE_KINDS)}; got {kind!r}")
        self._index = faiss_index
        self.kind = kind

    # ----------------------------------------------------------------------------- building
    @classmethod
    def build(cls, kind: str, vectors: np.ndarray, ids: np.ndarray, seed: int = 0) -> ApproximateIndex:
        """Train (IVF: k-means on a sample) and fill an index of ``kind`` with ``vectors`` under ``ids``.

        Args:
            kind: one of :data:`APPROXIMATE_KINDS`.
            vectors: float32 ``(n, d)``.
            ids: int64 ``(n,)`` stable ids of the rows (what :meth:`search` returns).
            seed: seed of the training sample (FAISS's k-means has its own fixed seed).
        """
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        count, dimension = vectors.shape
        if kind == "hnsw":
            graph = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS)
            graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            graph.hnsw.efSearch = HNSW_EF_SEARCH
            index = faiss.IndexIDMap2(graph)
        elif kind in ("ivf-pq", "ivf-flat"):
            lists = list_count(count)
            quantizer = faiss.IndexFlatL2(dimension)  # the IVF index keeps a reference to it
            if kind == "ivf-pq":
                if dimension % 2:
                    raise UsageError(f"ivf-pq needs an even encoding length; got {dimension}")
                subquantizers = PQ_SUBQUANTIZERS if dimension % PQ_SUBQUANTIZERS == 0 else dimension // 2
                index = faiss.IndexIVFPQFastScan(quantizer, dimension, lists, subquantizers, 4)
            else:
                index = faiss.IndexIVFFlat(quantizer, dimension, lists)
            index.cp.niter = KMEANS_ITERATIONS
            index.nprobe = probe_count(lists)
            training = min(count, TRAINING_POINTS_PER_LIST * lists)
            rows = np.sort(np.random.default_rng(seed).choice(count, training, replace=False))
            index.train(vectors[rows])
        else:
            raise UsageError(f"approximate index kind must be one of {', '.join(APPROXIMATE_KINDS)}; got {kind!r}")
        index.add_with_ids(vectors, ids)
        return cls(index, kind)

    # ----------------------------------------------------------------------------- contents
    @property
    def size(self) -> int:
        """Vectors held by the index (for HNSW, removed ones included until the next rebuild)."""
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        """Length of the vectors."""
        return int(self._index.d)

    @property
    def lists(self) -> int | None:
        """IVF lists (None for HNSW)."""
        return int(self._index.nlist) if self.kind != "hnsw" else None

    @property
    def probes(self) -> int | None:
        """IVF lists scanned per probe (None for HNSW); settable (more: slower, higher recall)."""
        return int(self._index.nprobe) if self.kind != "hnsw" else None

    @probes.setter
    def probes(self, count: int) -> None:
        if self.kind == "hnsw":
            raise UsageError("an HNSW index has no lists to probe")
        if not 1 <= int(count) <= self.lists:
            raise UsageError(f"probes must be between 1 and {self.lists}; got {count}")
        self._index.nprobe = int(count)

    def ids(self) -> np.ndarray:
        """Every id held, removed HNSW tombstones included (reads the IVF lists: O(size))."""
        faiss = _faiss()
        if self.kind == "hnsw":
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)
        lists = self._index.invlists
        chunks = [
            faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
            for number in range(lists.nlist)
            if lists.list_size(number)
        ]
        return np.concatenate(chunks).astype(np.int64) if chunks else np.zeros(0, np.int64)

    def rebuild_reason(self, live_vectors: int) -> str | None:
        """Why the index should be rebuilt for a gallery of ``live_vectors`` vectors, or None.

        Example:
            >>> ann = ApproximateIndex.build("ivf-flat", np.eye(2000, 128, dtype=np.float32), np.arange(2000))
            >>> ann.rebuild_reason(2500) is None, ann.rebuild_reason(9000)
            (True, 'the gallery grew to 9000 vectors for 32 lists (128 fit now)')
        """
        if self.kind == "hnsw":
            dead = self.size - live_vectors
            if dead > DEAD_FRACTION * max(1, self.size):
                return f"{dead} of its {self.size} vectors were removed"
            return None
        ideal = list_count(live_vectors)
        if ideal >= 4 * self.lists:
            return f"the gallery grew to {live_vectors} vectors for {self.lists} lists ({ideal} fit now)"
        if 4 * ideal <= self.lists:
            return f"the gallery shrank to {live_vectors} vectors for {self.lists} lists"
        return None

    def memory_bytes(self) -> int:
        """Bytes the index takes (its serialised size: codes, ids, centroids or graph)."""
        return int(_faiss().serialize_index(self._index).size)

    # ----------------------------------------------------------------------------- changes and queries
    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add ``vectors`` (float32 ``(n, d)``) under ``ids`` (int64 ``(n,)``); no retraining."""
        self._index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)
        )

    def remove(self, ids: np.ndarray) -> int:
        """Remove ``ids``; returns how many were physically removed (HNSW: 0, they become tombstones)."""
        if self.kind == "hnsw":
            return 0
        return int(self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))

    def search(self, probes: np.ndarray, count: int = RERANK) -> np.ndarray:
        """Ids of the ``count`` best candidates for each probe, ``(n, count)`` int64; -1 pads short lists.

        The order and the distances behind it are approximate: callers re-rank with exact distances.
        """
        faiss = _faiss()
        probes = np.ascontiguousarray(probes, dtype=np.float32)
        count = int(min(count, max(1, self.size)))
        if self.kind == "hnsw":
            faiss.downcast_index(self._index.index).hnsw.efSearch = max(HNSW_EF_SEARCH, count)
        with _threads_for(len(probes)):
            blocks = [
                self._index.search(probes[start : start + _CANDIDATE_PROBES], count)[1]
                for start in range(0, len(probes), _CANDIDATE_PROBES)
            ]
        return np.concatenate(blocks) if blocks else np.zeros((0, count), np.int64)

    # ----------------------------------------------------------------------------- files
    def save(self, path) -> str:
        """Write the index to ``path`` in FAISS's format, atomically; returns the file's SHA-256.

        The caller (the database) records the checksum, so a later :meth:`load` can tell this
        file from a stale or damaged one.
        """
        data = _faiss().serialize_index(self._index)
        with files.atomic_write(path, "wb") as handle:
            handle.write(memoryview(data))
        return hashlib.sha256(memoryview(data)).hexdigest()

    @classmethod
    def load(cls, path, sha256: str, dimension: int) -> ApproximateIndex:
        """Read an index written by :meth:`save`, after checking its SHA-256.

        Raises:
            utils.errors.DatabaseError: the file is missing, its checksum differs from ``sha256``
                (stale: written for other contents, or damaged), FAISS cannot read it, or it holds
                another kind or vector length. The message names the file; nothing unchecked is
                ever handed to FAISS.
        """
        path = Path(path)
        if not path.is_file():
            raise DatabaseError(f"index {path} is missing")
        actual = _sha256_of_file(path)
        if actual != sha256:
            raise DatabaseError(
                f"index {path} does not match its database (SHA-256 {actual[:12]}..., the database "
                f"expects {sha256[:12]}...): it is stale or damaged"
            )
        faiss = _faiss()
        try:
            index = faiss.deserialize_index(np.fromfile(path, dtype=np.uint8))  # comes back as its own class
        except RuntimeError as error:
            raise DatabaseError(f"index {path} cannot be read by FAISS: {str(error).splitlines()[0]}") from None
        if isinstance(index, faiss.IndexIDMap2):
            kind = "hnsw"
        elif isinstance(index, faiss.IndexIVFPQFastScan):
            kind = "ivf-pq"
        elif isinstance(index, faiss.IndexIVFFlat):
            kind = "ivf-flat"
        else:
            raise DatabaseError(f"index {path} holds a FAISS {type(index).__name__}, not an index this code writes")
        if index.d != dimension:
            raise DatabaseError(f"index {path} holds {index.d}-d vectors; the database holds {dimension}-d ones")
        return cls(index, kind)

    def __repr__(self) -> str:
        shape = f", {self.lists} lists, {self.probes} probed" if self.lists else ""
        return f"ApproximateIndex({self.kind}, {self.size} vectors{shape})"
