"""A face database: enrolled 128-d encodings per identity, 1:1 verification and 1:K identification.

:class:`FaceDatabase` works on encodings only; turning images into encodings is the job of
:mod:`utils.faces.encoder` (``encode_images``), and the course functions of
:mod:`utils.faces.course` put the two together.

Every enrolled vector is one row of a single ``(N, 128)`` float32 matrix with an integer label
naming its identity and a stable row id. An identity's score is its smallest distance over its
enrolled vectors; :meth:`FaceDatabase.identify` answers the identity of the nearest vector, or
:data:`utils.faces.constants.NOT_RECOGNIZED` when even that is at or beyond the threshold.

**Search.** Small galleries are searched exactly: the probe is compared with *all* vectors in one
matrix-vector product (no Python loop per identity). From
:data:`utils.faces.index.AUTO_APPROXIMATE_FROM` vectors on (or when asked with ``index=``), a FAISS
index proposes candidates and the database re-ranks them with exact distances, so every answered
distance and accept/reject decision is exact; see :mod:`utils.faces.index`. Enrolment and removal
update the index incrementally.

**Files.** A database is one ``.npz`` (``allow_pickle=False``; names are a unicode array) with a
format version, written atomically (:func:`utils.files.atomic_write`); an approximate index is
saved beside it in FAISS's format (``faces.npz.faiss``) and the ``.npz`` records the index's
SHA-256, so a stale or damaged index is detected, never trusted (rebuilt, or refused with
``rebuild_index=False``). Before anything is allocated, the header of every array in the file is
checked against the file itself (a header cannot make the loader allocate 512 GB). A damaged or
foreign file raises :class:`utils.errors.DatabaseError` naming it.

**Concurrency.** :meth:`FaceDatabase.save` holds the database's lock (:func:`utils.files.locked`,
a ``filelock`` lock — ``flock`` on POSIX, ``LockFileEx`` on Windows — that the operating system
releases when its holder dies) and :meth:`FaceDatabase.load` takes the same lock; :meth:`FaceDatabase.updating` holds the lock around load -> change -> save, so
concurrent writers (two ``enroll`` commands) never lose each other's identities.

Example:
    >>> import numpy as np
    >>> from utils.faces.database import FaceDatabase
    >>> database = FaceDatabase(threshold=0.6)
    >>> database.enroll("ann", np.zeros(128, np.float32))
    1
    >>> database.identify(np.full(128, 0.01, np.float32))      # distance 0.01 * sqrt(128)
    (0.11313..., 'ann')
    >>> database.identify(np.full(128, 0.1, np.float32))[1]     # distance 1.13: a stranger
    'not recognized'
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from utils import files
from utils.errors import DatabaseError, UnknownIdentityError, UsageError
from utils.faces import constants
from utils.faces import index as index_module

__all__ = ["FaceDatabase", "DatabaseError", "UnknownIdentityError", "FORMAT_VERSION", "check_identity"]

#: Version written into saved files; :meth:`FaceDatabase.load` refuses other versions. Version 1
#: files without ``row_ids`` / ``index_kind`` / ``index_sha256`` (written before the index existed)
#: read as row ids 0..N-1, ``index="auto"`` and no saved index.
FORMAT_VERSION = 1

_FILE_KIND = "course-face-database"
_CHUNK_ELEMENTS = 1 << 24  # probes x vectors per block in identify_many
_SINGLE_THREAD_ROWS = 1 << 18  # below this many vectors one probe is scored without BLAS
_RERANK_PROBES = 256  # probes re-ranked at once (256 x 128 candidates x 128 floats = 16 MB)
_SCORING_MATRIX_BYTES = 64 << 20  # up to this size exact batches use the (N, d+1) scoring matrix
_MAX_DEFLATE_RATIO = 1100  # deflate cannot compress more than ~1032:1; a larger claim is a lie

#: Arrays of a database file: dtype kinds allowed and number of dimensions.
_MEMBERS = {
    "kind": ("U", 0),
    "format_version": ("iu", 0),
    "threshold": ("fiu", 0),
    "identities": ("U", 1),
    "labels": ("iu", 1),
    "vectors": ("f", 2),
    "row_ids": ("iu", 1),
    "index_kind": ("U", 0),
    "index_sha256": ("U", 0),
}
_REQUIRED = ("kind", "format_version", "threshold", "identities", "labels", "vectors")
#: Unicode's control characters (category Cc: tab, newline, NUL, ...) and the line and paragraph
#: separators (Zl, Zp): the characters that break a tab-separated line.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_identity(identity) -> str:
    """Return ``identity`` if it can name a person, else raise :class:`utils.errors.UsageError`.

    A name must be a non-empty string without control characters (tab, newline, ...: the
    ``identify`` command prints tab-separated lines) and must not be the answer for an unknown
    face, :data:`utils.faces.constants.NOT_RECOGNIZED`.

    Example:
        >>> check_identity("Zoë Ünicode")
        'Zoë Ünicode'
        >>> check_identity("ann\\tbob")
        Traceback (most recent call last):
        ...
        utils.errors.UsageError: identity 'ann\\tbob' contains a tab; names may not hold tabs, newlines ...
    """
    if not isinstance(identity, str) or not identity.strip():
        raise UsageError(f"identity must be a non-empty string, got {identity!r}")
    found = _LINE_BREAKING.search(identity)
    if found:
        character = found.group()
        kind = "control character" if unicodedata.category(character) == "Cc" else "line separator"
        name = {"\t": "a tab", "\n": "a newline", "\r": "a carriage return"}.get(
            character, f"the {kind} U+{ord(character):04X}"
        )
        raise UsageError(
            f"identity {identity!r} contains {name}; names may not hold tabs, newlines or other "
            "control characters (identify prints tab-separated lines)"
        )
    if identity.strip().casefold() == constants.NOT_RECOGNIZED.casefold():
        raise UsageError(
            f"{identity!r} cannot be a name: it is what identification answers for an unknown face; choose another name"
        )
    return identity


class FaceDatabase:
    """Enrolled face encodings with verification and identification.

    Args:
        threshold: distance below which two faces are the same person (default
            :data:`utils.faces.constants.DEFAULT_THRESHOLD`, 0.6).
        dimension: length of the encodings (128).
        index: search index, one of :data:`utils.faces.index.KINDS`: ``"auto"`` (exact search,
            then IVF-PQ from 250,000 vectors on), ``"exact"``, ``"ivf-pq"``, ``"ivf-flat"`` or
            ``"hnsw"`` (approximate kinds are used from :data:`utils.faces.index.MIN_VECTORS`
            vectors on). Answers are exact distances whichever kind is used.

    Example:
        >>> database = FaceDatabase.from_dict({"ann": np.zeros((1, 128)), "bob": np.ones((1, 128))})
        >>> database
        FaceDatabase(2 identities, 2 encodings, threshold=0.6, index=auto)
        >>> database.verify(np.zeros(128), "bob")
        (11.31370..., False)
    """

    def __init__(self, threshold: float | None = None, dimension: int = constants.EMBEDDING_SIZE, index: str = "auto"):
        self.threshold = constants.DEFAULT_THRESHOLD if threshold is None else threshold
        self.dimension = int(dimension)
        self._index_kind = index_module.check_kind(index)
        self._names: list[str] = []
        self._position: dict[str, int] = {}
        self._vectors = np.zeros((0, self.dimension), dtype=np.float32)
        self._labels = np.zeros((0,), dtype=np.int32)
        self._row_ids = np.zeros((0,), dtype=np.int64)  # strictly increasing; what the index holds
        self._next_id = 0
        self._half_squared_norms = np.zeros((0,), dtype=np.float32)
        self._scoring: tuple[np.ndarray, np.ndarray] | None = None  # (vectors it was made from, matrix)
        self._approximate: index_module.ApproximateIndex | None = None

    # ----------------------------------------------------------------------------- contents
    @property
    def threshold(self) -> float:
        """Decision threshold: distances strictly below it are a match."""
        return self._threshold

    @threshold.setter
    def threshold(self, value) -> None:
        try:
            threshold = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"threshold must be a positive number, got {value!r}") from None
        if not np.isfinite(threshold) or threshold <= 0:
            raise UsageError(f"threshold must be a positive number, got {value!r}")
        self._threshold = threshold

    @property
    def identities(self) -> list[str]:
        """Enrolled identities, in enrolment order."""
        return list(self._names)

    @property
    def num_vectors(self) -> int:
        """Number of enrolled encodings (all identities together)."""
        return int(self._vectors.shape[0])

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, identity) -> bool:
        return identity in self._position

    def __repr__(self) -> str:
        return (
            f"FaceDatabase({len(self)} identities, {self.num_vectors} encodings, "
            f"threshold={self.threshold:g}, index={self._index_kind})"
        )

    def encodings(self, identity: str) -> np.ndarray:
        """The ``(k, dimension)`` encodings enrolled for ``identity``."""
        return self._vectors[self._labels == self._label(identity)].copy()

    def items(self) -> Iterable[tuple[str, np.ndarray]]:
        """``(identity, encodings (k, 128))`` pairs, in enrolment order."""
        for name in self._names:
            yield name, self.encodings(name)

    def _label(self, identity: str) -> int:
        try:
            return self._position[identity]
        except KeyError:
            known = ", ".join(self._names[:10]) + (" ..." if len(self._names) > 10 else "")
            raise UnknownIdentityError(f"identity {identity!r} is not enrolled (enrolled: {known or 'none'})") from None

    def _check_encodings(self, encodings, what: str = "encodings") -> np.ndarray:
        if isinstance(encodings, (str, os.PathLike)) or (
            isinstance(encodings, np.ndarray) and encodings.dtype == np.uint8 and encodings.ndim >= 3
        ):
            raise UsageError(
                f"FaceDatabase works on encodings, got an image ({_describe(encodings)}); "
                "encode it first with utils.faces.encode_images(images)"
            )
        try:
            array = np.asarray(encodings, dtype=np.float32)
        except (TypeError, ValueError):
            raise UsageError(
                f"{what} must be numbers of shape ({self.dimension},) or (n, {self.dimension}); "
                f"got {_describe(encodings)} (images are encoded with "
                "utils.faces.encode_images)"
            ) from None
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != self.dimension:
            raise UsageError(
                f"{what} must have shape ({self.dimension},) or (n, {self.dimension}); got {np.shape(encodings)}"
            )
        if not np.all(np.isfinite(array)):
            raise UsageError(f"{what} hold NaN or infinite values")
        return array

    # ----------------------------------------------------------------------------- enrolment
    def enroll(self, identity: str, encodings) -> int:
        """Add encodings ``(128,)`` or ``(n, 128)`` under ``identity``; returns how many.

        Raises:
            utils.errors.UsageError: a name that cannot be used (empty, with a tab, newline or
                other control character, or ``"not recognized"``: see :func:`check_identity`),
                or encodings of the wrong shape (or an image instead of encodings: encode it with
                ``utils.faces.encode_images``).
        """
        check_identity(identity)
        vectors = self._check_encodings(encodings)
        labels = np.full(len(vectors), self._add_name(identity), dtype=np.int32)
        self._append(vectors, labels)
        return len(vectors)

    def enroll_many(self, identities: Sequence[str], encodings) -> None:
        """Bulk enrolment: ``identities[i]`` owns row ``i`` of ``encodings`` ``(n, 128)``.

        Example:
            >>> database = FaceDatabase()
            >>> database.enroll_many(["ann", "bob", "ann"], np.eye(3, 128))
            >>> database.identities, database.num_vectors
            (['ann', 'bob'], 3)
        """
        vectors = self._check_encodings(encodings)
        array_given = isinstance(identities, np.ndarray)
        if not array_given:  # checked before NumPy drops trailing NUL characters
            for name in set(identities):
                check_identity(name)
        names = np.asarray(identities)
        if names.shape != (len(vectors),):
            raise UsageError(f"enroll_many: {names.shape} identities for {len(vectors)} encodings")
        unique_names, inverse = np.unique(names, return_inverse=True)
        if array_given:
            for name in unique_names:
                check_identity(str(name))
        mapping = np.array([self._add_name(str(name)) for name in unique_names], dtype=np.int32)
        self._append(vectors, mapping[inverse.ravel()])

    def _add_name(self, identity: str) -> int:
        if identity not in self._position:
            self._position[identity] = len(self._names)
            self._names.append(identity)
        return self._position[identity]

    def _append(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        ids = np.arange(self._next_id, self._next_id + len(vectors), dtype=np.int64)
        self._next_id += len(vectors)
        self._vectors = np.concatenate([self._vectors, vectors]) if self.num_vectors else vectors.copy()
        self._labels = np.concatenate([self._labels, labels]) if len(self._labels) else labels.copy()
        self._row_ids = np.concatenate([self._row_ids, ids])
        half_norms = 0.5 * np.einsum("ij,ij->i", vectors, vectors, dtype=np.float32)
        self._half_squared_norms = np.concatenate([self._half_squared_norms, half_norms])
        if self._approximate is not None:
            self._approximate.add(vectors, ids)  # incremental: no retraining

    def remove(self, identity: str) -> int:
        """Delete ``identity`` and all its encodings; returns how many encodings were removed."""
        label = self._label(identity)
        keep = self._labels != label
        removed = int(np.count_nonzero(~keep))
        if self._approximate is not None:
            self._approximate.remove(self._row_ids[~keep])
        self._vectors = self._vectors[keep]
        self._half_squared_norms = self._half_squared_norms[keep]
        self._row_ids = self._row_ids[keep]
        labels = self._labels[keep]
        self._labels = np.where(labels > label, labels - 1, labels).astype(np.int32)
        del self._names[label]
        self._position = {name: position for position, name in enumerate(self._names)}
        return removed

    # ----------------------------------------------------------------------------- the index
    @property
    def index_kind(self) -> str:
        """The requested search index (one of :data:`utils.faces.index.KINDS`); settable."""
        return self._index_kind

    @index_kind.setter
    def index_kind(self, kind: str) -> None:
        self._index_kind = index_module.check_kind(kind)

    @property
    def search_kind(self) -> str:
        """The search the next query runs: ``"exact"`` or an approximate kind (builds nothing)."""
        current = self._approximate.kind if self._approximate is not None else None
        return index_module.resolve_kind(self._index_kind, self.num_vectors, current)

    def build_index(self, rebuild: bool = False) -> str:
        """Build the approximate index now if the size and :attr:`index_kind` call for one.

        Otherwise it is built at the first query (or save) that needs it.

        Args:
            rebuild: build afresh even when the current index is up to date.

        Returns:
            :attr:`search_kind`.
        """
        if rebuild:
            self._approximate = None
        self._search_index()
        return self.search_kind

    def index_info(self) -> dict:
        """What the search uses: kind, vectors, lists and probes (IVF), candidates re-ranked, index bytes.

        Example:
            >>> FaceDatabase().index_info()
            {'requested': 'auto', 'kind': 'exact', 'vectors': 0, 'built': False}
        """
        info = {
            "requested": self._index_kind,
            "kind": self.search_kind,
            "vectors": self.num_vectors,
            "built": self._approximate is not None,
        }
        if self._approximate is not None:
            info.update(
                lists=self._approximate.lists,
                probes=self._approximate.probes,
                rerank=index_module.RERANK,
                removed_but_held=self._approximate.size - self.num_vectors,
                memory_bytes=self._approximate.memory_bytes(),
            )
        return info

    def _search_index(self) -> index_module.ApproximateIndex | None:
        """The approximate index to query, built or rebuilt if needed; None for exact search."""
        kind = self.search_kind
        if kind == "exact":
            self._approximate = None
            return None
        current = self._approximate
        if current is None or current.kind != kind or current.rebuild_reason(self.num_vectors) is not None:
            self._approximate = None  # free the old one before building the new one
            self._approximate = index_module.ApproximateIndex.build(kind, self._vectors, self._row_ids)
        return self._approximate

    def _rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the stable ``ids`` (-1 where an id is padding or a removed vector)."""
        if self.num_vectors and self._row_ids[-1] == self.num_vectors - 1:  # ids are 0..N-1: nothing removed
            return np.where(ids < self.num_vectors, ids, -1)
        positions = np.clip(np.searchsorted(self._row_ids, ids), 0, max(0, self.num_vectors - 1))
        valid = (ids >= 0) & (self._row_ids[positions] == ids)
        return np.where(valid, positions, -1)

    # ----------------------------------------------------------------------------- queries
    def distances(self, encoding) -> np.ndarray:
        """Euclidean distance from one encoding to every enrolled vector, shape ``(N,)``."""
        probe = self._check_encodings(encoding, "probe encoding")[0]
        return np.linalg.norm(self._vectors - probe, axis=1)

    def identity_distances(self, encoding) -> dict[str, float]:
        """Smallest distance from ``encoding`` to each identity's enrolled vectors."""
        distances = self.distances(encoding)
        best = np.full(len(self._names), np.inf)
        np.minimum.at(best, self._labels, distances)
        return {name: float(value) for name, value in zip(self._names, best)}

    def verify(self, encoding, identity: str) -> tuple[float, bool]:
        """1:1 check: distance of ``encoding`` to ``identity`` (min over its vectors) and whether it matches.

        Raises:
            utils.errors.UnknownIdentityError: ``identity`` is not enrolled.
        """
        label = self._label(identity)
        probe = self._check_encodings(encoding, "probe encoding")[0]
        own = self._vectors[self._labels == label]
        distance = float(np.min(np.linalg.norm(own - probe, axis=1)))
        return distance, distance < self.threshold

    def identify(self, encoding) -> tuple[float, str]:
        """1:K search: ``(distance, identity)`` of the nearest enrolled vector, or ``NOT_RECOGNIZED``.

        An empty database answers ``(inf, NOT_RECOGNIZED)``.
        """
        return self.identify_many(encoding)[0]

    def identify_many(self, encodings) -> list[tuple[float, str]]:
        """Identify many probes at once: one ``(distance, identity or NOT_RECOGNIZED)`` each.

        Exact search finds the nearest vector with ``|v|^2/2 - v.p`` (one matrix product per block
        of probes); an approximate index proposes :data:`utils.faces.index.RERANK` candidates that
        are re-ranked exactly. Either way the answer's distance is recomputed directly, and the
        decision is ``distance < threshold``.
        """
        probes = self._check_encodings(encodings, "probe encodings")
        if not self.num_vectors:
            return [(float("inf"), constants.NOT_RECOGNIZED) for _ in range(len(probes))]
        rows = self._nearest_rows(probes)
        exact = np.linalg.norm(self._vectors[rows] - probes, axis=1)
        answers = []
        for distance, row in zip(exact, rows):
            name = self._names[self._labels[row]]
            answers.append((float(distance), name if distance < self.threshold else constants.NOT_RECOGNIZED))
        return answers

    def nearest_rows(self, encodings) -> np.ndarray:
        """Position of the nearest enrolled vector for each probe, found by the search in use.

        Positions count enrolled vectors in enrolment order (removed ones excluded); -1 for every
        probe of an empty database. Comparing the rows of an approximate and an exact search gives
        the recall of the index.
        """
        probes = self._check_encodings(encodings, "probe encodings")
        if not self.num_vectors:
            return np.full(len(probes), -1, dtype=np.int64)
        return self._nearest_rows(probes)

    def _nearest_rows(self, probes: np.ndarray) -> np.ndarray:
        approximate = self._search_index()
        if approximate is None:
            return self._exact_nearest_rows(probes)
        rows = np.empty(len(probes), dtype=np.int64)
        for start in range(0, len(probes), _RERANK_PROBES):
            chunk = probes[start : start + _RERANK_PROBES]
            candidates = self._rows_of(approximate.search(chunk, index_module.RERANK))
            invalid = candidates < 0  # padding of short lists, removed (tombstoned) vectors
            any_invalid = bool(invalid.any())
            squared = index_module.squared_distances(
                chunk, self._vectors, np.where(invalid, 0, candidates) if any_invalid else candidates, check=False
            )
            if any_invalid:
                squared[invalid] = np.inf
            chosen = candidates[np.arange(len(chunk)), np.argmin(squared, axis=1)]
            if any_invalid and (chosen < 0).any():  # every candidate was invalid: search those probes exactly
                empty = chosen < 0
                chosen[empty] = self._exact_nearest_rows(chunk[empty])
            rows[start : start + len(chunk)] = chosen
        return rows

    def _exact_nearest_rows(self, probes: np.ndarray) -> np.ndarray:
        block = max(1, _CHUNK_ELEMENTS // max(1, self.num_vectors))
        rows = []
        for start in range(0, len(probes), block):
            chunk = probes[start : start + block]
            if len(chunk) == 1 and self.num_vectors < _SINGLE_THREAD_ROWS:
                # One probe, small database: einsum's own loop. A multithreaded BLAS call costs a
                # scheduler time slice (5-10 ms) whenever another process holds a core.
                products = np.einsum("ij,j->i", self._vectors, chunk[0])
                scores = (self._half_squared_norms - products)[None, :]
            elif len(chunk) == 1:  # large database: memory-bound matrix-vector product
                scores = (self._half_squared_norms - self._vectors @ chunk[0])[None, :]
            elif self.num_vectors * (self.dimension + 1) * 4 <= _SCORING_MATRIX_BYTES:
                # [p, 1] . [-v, |v|^2/2] = |v|^2/2 - v.p: the whole score in one matrix product
                augmented = np.ones((len(chunk), self.dimension + 1), dtype=np.float32)
                augmented[:, :-1] = chunk
                scores = augmented @ self._scoring_matrix().T
            else:  # |v|^2/2 - v.p written over the product itself: one pass less over (probes, N)
                scores = chunk @ self._vectors.T
                np.subtract(self._half_squared_norms[None, :], scores, out=scores)
            rows.append(np.argmin(scores, axis=1))
        return np.concatenate(rows)

    def _scoring_matrix(self) -> np.ndarray:
        """``(N, d + 1)`` rows ``[-v, |v|^2 / 2]``, remade whenever the enrolled vectors change.

        Saves the subtraction pass over the ``(probes, N)`` scores: 16 % less time per probe in
        batches at N = 10^4 (0.0155 vs 0.0184 ms, 2-core AMD EPYC Zen 4); kept only for small
        galleries (:data:`_SCORING_MATRIX_BYTES`), since it is a second copy of the vectors.
        """
        if self._scoring is None or self._scoring[0] is not self._vectors:
            matrix = np.concatenate([-self._vectors, self._half_squared_norms[:, None]], axis=1)
            self._scoring = (self._vectors, np.ascontiguousarray(matrix, dtype=np.float32))
        return self._scoring[1]

    # ----------------------------------------------------------------------------- files
    @classmethod
    def from_dict(cls, encodings: dict, threshold: float | None = None) -> FaceDatabase:
        """Build from the course's ``{name: encoding (1, 128) or (k, 128)}`` dictionary."""
        database = cls(threshold=threshold)
        for name, value in encodings.items():
            database.enroll(name, np.asarray(value))
        return database

    def save(self, path) -> Path:
        """Write the database to ``path`` (.npz) atomically, and its index beside it; returns the path.

        The index (when the size and :attr:`index_kind` call for one; built now if needed) goes to
        :func:`utils.faces.index.index_path` first, then the database, which records the index's
        SHA-256; both writes are atomic and happen under the database's lock.
        """
        path = Path(path)
        with files.locked(path):
            self._write(path)
        return path

    def _write(self, path: Path) -> None:
        approximate = self._search_index()
        index_file = index_module.index_path(path)
        index_sha256 = approximate.save(index_file) if approximate is not None else ""
        arrays = dict(
            kind=np.array(_FILE_KIND),
            format_version=np.array(FORMAT_VERSION, dtype=np.int64),
            threshold=np.array(self.threshold, dtype=np.float64),
            identities=np.array(self._names, dtype=np.str_).reshape(len(self._names)),
            labels=self._labels.astype(np.int32),
            vectors=self._vectors.astype(np.float32),
            row_ids=self._row_ids.astype(np.int64),
            index_kind=np.array(self._index_kind),
            index_sha256=np.array(index_sha256),
        )
        with files.atomic_write(path, "wb") as handle:
            np.savez(handle, **arrays)
        if approximate is None and index_file.is_file():
            index_file.unlink()  # the index of earlier contents; the database no longer names it

    @classmethod
    def load(
        cls, path, threshold: float | None = None, index: str | None = None, rebuild_index: bool = True
    ) -> FaceDatabase:
        """Read a database written by :meth:`save` (and its index, if it has one).

        Args:
            path: the ``.npz`` file.
            threshold: override the saved threshold (in memory; :meth:`save` would store it).
            index: override the saved index kind (one of :data:`utils.faces.index.KINDS`).
            rebuild_index: when the saved index is missing, stale or damaged, warn and rebuild it
                at the first query (True), or raise :class:`utils.errors.DatabaseError` (False).

        Raises:
            FileNotFoundError: no such file.
            utils.errors.DatabaseError: the file is a folder, truncated, corrupt, of another
                version or not a database; the message names it and says what is wrong.
        """
        path = _existing_database_file(path)
        with _shared_lock(path):
            return cls._read(path, threshold, index, rebuild_index)

    @classmethod
    @contextlib.contextmanager
    def updating(
        cls, path, threshold: float | None = None, index: str | None = None, create: bool = True
    ) -> Iterator[FaceDatabase]:
        """Load -> change -> save with the database locked against other writers throughout.

        Args:
            path: the ``.npz`` file.
            threshold: threshold of a *new* database; an existing one keeps its own (set
                ``database.threshold`` inside the block to change it).
            index: index kind to use from now on (default: the saved one, or ``"auto"``).
            create: start an empty database when ``path`` does not exist (else FileNotFoundError).

        Yields:
            The database; it is saved when the block ends without an exception (and left as it
            was on disk otherwise).

        Example:
            >>> with FaceDatabase.updating("people.npz") as database:
            ...     database.enroll("ann", np.zeros(128))
            1
            >>> FaceDatabase.load("people.npz").identities
            ['ann']
        """
        path = Path(path)
        with files.locked(path):
            if path.exists() or not create:
                database = cls._read(_existing_database_file(path), None, index, rebuild_index=True)
            else:
                database = cls(threshold=threshold, index=index or "auto")
            yield database
            database._write(path)

    @classmethod
    def stored_threshold(cls, path) -> float:
        """The threshold saved in the database at ``path``, without reading its vectors."""
        path = _existing_database_file(path)
        with _shared_lock(path):
            arrays = _read_arrays(path, members=("kind", "format_version", "threshold"))
        _check_kind_and_version(arrays, path, required=("format_version", "threshold"))
        return _threshold_of(arrays, path)

    @classmethod
    def _read(cls, path: Path, threshold, index, rebuild_index: bool) -> FaceDatabase:
        arrays = _read_arrays(path)
        database = cls._from_arrays(arrays, path, threshold, index)
        database._attach_saved_index(path, str(arrays.get("index_sha256", "")), rebuild_index)
        return database

    @classmethod
    def _from_arrays(cls, arrays: dict, path: Path, threshold, index) -> FaceDatabase:
        _check_kind_and_version(arrays, path)
        names, labels, vectors = arrays["identities"], arrays["labels"], arrays["vectors"]
        row_ids = arrays.get("row_ids")
        row_ids = np.arange(len(vectors), dtype=np.int64) if row_ids is None else row_ids.astype(np.int64)
        problems = []
        if labels.shape != (vectors.shape[0],):
            problems.append(f"labels has shape {labels.shape} for {vectors.shape[0]} vectors")
        elif len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
            problems.append("labels point outside the identity list")
        if row_ids.shape != (vectors.shape[0],):
            problems.append(f"row_ids has shape {row_ids.shape} for {vectors.shape[0]} vectors")
        elif len(row_ids) and (row_ids[0] < 0 or np.any(np.diff(row_ids) <= 0)):
            problems.append("row_ids are not increasing")
        if not np.all(np.isfinite(vectors)):
            problems.append("vectors hold NaN or infinite values")
        if len(set(names.tolist())) != len(names):
            problems.append("identities are not unique")
        for name in names.tolist():
            try:
                check_identity(name)
            except UsageError as error:
                problems.append(str(error))
                break
        if problems:
            raise DatabaseError(f"{path} is corrupt: " + "; ".join(problems))
        saved_kind = str(arrays.get("index_kind", "auto"))
        if saved_kind not in index_module.KINDS:
            raise DatabaseError(f"{path} is corrupt: unknown index kind {saved_kind!r}")
        database = cls(
            threshold=_threshold_of(arrays, path) if threshold is None else threshold,
            dimension=vectors.shape[1],
            index=index or saved_kind,
        )
        database._names = [str(name) for name in names]
        database._position = {name: position for position, name in enumerate(database._names)}
        database._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        database._labels = labels.astype(np.int32)
        database._row_ids = row_ids
        database._next_id = int(row_ids[-1]) + 1 if len(row_ids) else 0
        database._half_squared_norms = 0.5 * np.einsum(
            "ij,ij->i", database._vectors, database._vectors, dtype=np.float32
        )
        return database

    def _attach_saved_index(self, path: Path, sha256: str, rebuild_index: bool) -> None:
        """Use the index saved beside ``path`` if it is the one the database names, and fits it."""
        if not sha256:
            return
        kind = index_module.resolve_kind(
            self._index_kind, self.num_vectors, current="ivf-pq" if self._index_kind == "auto" else None
        )
        if kind == "exact":
            return
        index_file = index_module.index_path(path)
        try:
            saved = index_module.ApproximateIndex.load(index_file, sha256, self.dimension)
        except DatabaseError as error:
            problem = str(error)
        else:
            if saved.kind != kind:
                return  # another kind was asked for: it is built at the first query
            held = saved.size
            if held < self.num_vectors or (saved.kind != "hnsw" and held != self.num_vectors):
                problem = f"index {index_file} holds {held} vectors, the database {self.num_vectors}"
            else:
                self._approximate = saved
                return
        if not rebuild_index:
            raise DatabaseError(
                f"{problem}; refusing it (delete it or run `python -m utils.faces reindex "
                f"--db {path}` to build a new one)"
            )
        warnings.warn(
            f"{problem}; not using it: the index is rebuilt from {path} (save the database, or run "
            f"`python -m utils.faces reindex --db {path}`, to store the new one)",
            stacklevel=4,
        )


# --------------------------------------------------------------------------------- reading files
def _existing_database_file(path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise DatabaseError(f"face database {path} is a folder, not a .npz file")
    if not path.is_file():
        raise FileNotFoundError(
            f"face database not found: {path} (create it with "
            f"`python -m utils.faces enroll --db {path} --name NAME IMAGE`)"
        )
    return path


@contextlib.contextmanager
def _shared_lock(path: Path):
    """A shared lock for a reader; none where no lock file can be made (a read-only folder)."""
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(OSError):  # readers then rely on the atomic replacement alone
            stack.enter_context(files.locked(path, shared=True))
        yield


def _format_bytes(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:,.0f} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000
    return ""  # pragma: no cover


def _check_headers(path: Path, archive: zipfile.ZipFile) -> None:
    """Check each array's header against the file before anything is allocated."""
    for info in archive.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if key not in _MEMBERS:
            raise DatabaseError(
                f"{path} is not a face database written by FaceDatabase.save (unexpected member {info.filename!r})"
            )
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise DatabaseError(f"{path}: array {key} has .npy format version {version}, not 1.0 or 2.0")
            header_bytes = member.tell()
        kinds, dimensions = _MEMBERS[key]
        if dtype.hasobject:
            raise DatabaseError(f"{path}: array {key} holds Python objects (it would need pickle); refused")
        if dtype.kind not in kinds or len(shape) != dimensions:
            expected = {0: "a single value", 1: "a 1-D array", 2: "a 2-D array"}[dimensions]
            raise DatabaseError(
                f"{path} is corrupt: {key} has shape {shape} and dtype {dtype}, expected "
                f"{expected} of {' or '.join(dict.fromkeys(_KIND_NAMES[kind] for kind in kinds))}"
            )
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        held = info.file_size - header_bytes
        if declared != held:
            raise DatabaseError(
                f"{path} is corrupt: {key} declares shape {shape} {dtype} "
                f"({_format_bytes(declared)}) but the file holds {_format_bytes(max(0, held))} for it"
            )
        compressed = info.compress_type != zipfile.ZIP_STORED
        if compressed and info.file_size > _MAX_DEFLATE_RATIO * max(1, info.compress_size):
            raise DatabaseError(
                f"{path} is corrupt: {key} claims {_format_bytes(info.file_size)} from "
                f"{_format_bytes(info.compress_size)} compressed"
            )


_KIND_NAMES = {"U": "text", "i": "integers", "u": "integers", "f": "floats"}


def _read_arrays(path: Path, members: Sequence[str] | None = None) -> dict:
    """The arrays of a database file (all, or only ``members``), after checking every array's header."""
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic == b"\x93NUMPY":
        raise DatabaseError(
            f"{path} is a single NumPy array (.npy), not a face database (.npz archive); was a .npy file renamed?"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            _check_headers(path, archive)
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files if members is None or key in members}
    except DatabaseError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError) as error:
        raise DatabaseError(f"{path} is not a readable face database (truncated or corrupt file?): {error}") from None


def _check_kind_and_version(arrays: dict, path: Path, required: Sequence[str] = _REQUIRED) -> None:
    if str(arrays.get("kind", "")) != _FILE_KIND:
        raise DatabaseError(f"{path} is not a face database written by FaceDatabase.save (no kind marker)")
    missing = [key for key in required if key not in arrays]
    if missing:
        raise DatabaseError(f"{path} is not a face database written by FaceDatabase.save (missing {missing})")
    version = int(arrays["format_version"])
    if version != FORMAT_VERSION:
        raise DatabaseError(f"{path} has format version {version}; this code reads version {FORMAT_VERSION}")


def _threshold_of(arrays: dict, path: Path) -> float:
    if "threshold" not in arrays:
        raise DatabaseError(f"{path} is not a face database written by FaceDatabase.save (missing ['threshold'])")
    threshold = float(arrays["threshold"])
    if not np.isfinite(threshold) or threshold <= 0:
        raise DatabaseError(f"{path} is corrupt: its threshold is {threshold}, not a positive number")
    return threshold


def _describe(value) -> str:
    if isinstance(value, (str, os.PathLike)):
        return f"the path {str(value)!r}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"an array of shape {shape} and dtype {getattr(value, 'dtype', '?')}"
    return f"a {type(value).__name__}"
