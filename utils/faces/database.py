"""A face database: enrolled 128-d encodings per identity, 1:1 verification and 1:K identification.

:class:`FaceDatabase` works on encodings only; turning images into encodings is the job of
:mod:`utils.faces.encoder` (``encode_images``), and the course functions of
:mod:`utils.faces.course` put the two together.

Every enrolled vector is one row of a single ``(N, 128)`` float32 matrix with an integer label
naming its identity, so a probe is compared with *all* enrolled vectors in one matrix-vector
product (no Python loop per identity). An identity's score is its smallest distance over its
enrolled vectors; :meth:`FaceDatabase.identify` answers the identity of the nearest vector, or
:data:`utils.faces.constants.NOT_RECOGNIZED` when even that is at or beyond the threshold.

Databases are saved as ``.npz`` (``allow_pickle=False``; names are stored as a unicode array)
with a format version, written atomically (:func:`utils.files.atomic_write`). A damaged or
foreign file raises :class:`utils.errors.DatabaseError` naming it.

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

import os
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from utils import files
from utils.errors import DatabaseError, UnknownIdentityError, UsageError
from utils.faces import constants

__all__ = ["FaceDatabase", "DatabaseError", "UnknownIdentityError", "FORMAT_VERSION"]

#: Version written into saved files; :meth:`FaceDatabase.load` refuses other versions.
FORMAT_VERSION = 1

_FILE_KIND = "course-face-database"
_CHUNK_ELEMENTS = 1 << 24  # probes x vectors per block in identify_many
_SINGLE_THREAD_ROWS = 1 << 18  # below this many vectors one probe is scored without BLAS


class FaceDatabase:
    """Enrolled face encodings with verification and identification.

    Args:
        threshold: distance below which two faces are the same person (default
            :data:`utils.faces.constants.DEFAULT_THRESHOLD`, 0.6).
        dimension: length of the encodings (128).

    Example:
        >>> database = FaceDatabase.from_dict({"ann": np.zeros((1, 128)), "bob": np.ones((1, 128))})
        >>> database
        FaceDatabase(2 identities, 2 encodings, threshold=0.6)
        >>> database.verify(np.zeros(128), "bob")
        (11.31370..., False)
    """

    def __init__(self, threshold: float | None = None, dimension: int = constants.EMBEDDING_SIZE):
        self.threshold = float(constants.DEFAULT_THRESHOLD if threshold is None else threshold)
        if not np.isfinite(self.threshold) or self.threshold <= 0:
            raise UsageError(f"threshold must be a positive number, got {threshold!r}")
        self.dimension = int(dimension)
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._vectors = np.zeros((0, self.dimension), dtype=np.float32)
        self._labels = np.zeros((0,), dtype=np.int32)
        self._half_squared_norms = np.zeros((0,), dtype=np.float32)

    # ----------------------------------------------------------------------------- contents
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
        return identity in self._index

    def __repr__(self) -> str:
        return (f"FaceDatabase({len(self)} identities, {self.num_vectors} encodings, "
                f"threshold={self.threshold:g})")

    def encodings(self, identity: str) -> np.ndarray:
        """The ``(k, dimension)`` encodings enrolled for ``identity``."""
        return self._vectors[self._labels == self._label(identity)].copy()

    def items(self) -> Iterable[tuple[str, np.ndarray]]:
        """``(identity, encodings (k, 128))`` pairs, in enrolment order."""
        for name in self._names:
            yield name, self.encodings(name)

    def _label(self, identity: str) -> int:
        try:
            return self._index[identity]
        except KeyError:
            known = ", ".join(self._names[:10]) + (" ..." if len(self._names) > 10 else "")
            raise UnknownIdentityError(f"identity {identity!r} is not enrolled (enrolled: "
                                       f"{known or 'none'})") from None

    def _check_encodings(self, encodings, what: str = "encodings") -> np.ndarray:
        if isinstance(encodings, (str, os.PathLike)) or (
                isinstance(encodings, np.ndarray) and encodings.dtype == np.uint8 and encodings.ndim >= 3):
            raise UsageError(f"FaceDatabase works on encodings, got an image ({_describe(encodings)}); "
                             "encode it first with utils.faces.encode_images(images)")
        try:
            array = np.asarray(encodings, dtype=np.float32)
        except (TypeError, ValueError):
            raise UsageError(f"{what} must be numbers of shape ({self.dimension},) or (n, {self.dimension}); "
                             f"got {_describe(encodings)} (images are encoded with "
                             "utils.faces.encode_images)") from None
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != self.dimension:
            raise UsageError(f"{what} must have shape ({self.dimension},) or (n, {self.dimension}); "
                             f"got {np.shape(encodings)}")
        if not np.all(np.isfinite(array)):
            raise UsageError(f"{what} hold NaN or infinite values")
        return array

    # ----------------------------------------------------------------------------- enrolment
    def enroll(self, identity: str, encodings) -> int:
        """Add encodings ``(128,)`` or ``(n, 128)`` under ``identity``; returns how many.

        Raises:
            utils.errors.UsageError: an empty identity, or encodings of the wrong shape (or an
                image instead of encodings: encode it with ``utils.faces.encode_images``).
        """
        if not isinstance(identity, str) or not identity.strip():
            raise UsageError(f"identity must be a non-empty string, got {identity!r}")
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
        names = np.asarray(identities)
        if names.shape != (len(vectors),):
            raise UsageError(f"enroll_many: {names.shape} identities for {len(vectors)} encodings")
        unique_names, inverse = np.unique(names, return_inverse=True)
        mapping = np.array([self._add_name(str(name)) for name in unique_names], dtype=np.int32)
        self._append(vectors, mapping[inverse.ravel()])

    def _add_name(self, identity: str) -> int:
        if identity not in self._index:
            self._index[identity] = len(self._names)
            self._names.append(identity)
        return self._index[identity]

    def _append(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        self._vectors = np.concatenate([self._vectors, vectors]) if self.num_vectors else vectors.copy()
        self._labels = np.concatenate([self._labels, labels]) if len(self._labels) else labels.copy()
        half_norms = 0.5 * np.einsum("ij,ij->i", vectors, vectors, dtype=np.float32)
        self._half_squared_norms = np.concatenate([self._half_squared_norms, half_norms])

    def remove(self, identity: str) -> int:
        """Delete ``identity`` and all its encodings; returns how many encodings were removed."""
        label = self._label(identity)
        keep = self._labels != label
        removed = int(np.count_nonzero(~keep))
        self._vectors = self._vectors[keep]
        self._half_squared_norms = self._half_squared_norms[keep]
        labels = self._labels[keep]
        self._labels = np.where(labels > label, labels - 1, labels).astype(np.int32)
        del self._names[label]
        self._index = {name: position for position, name in enumerate(self._names)}
        return removed

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

        The nearest enrolled vector is found with ``|v|^2/2 - v.p`` (one matrix product per block
        of probes); its exact distance is then recomputed directly.
        """
        probes = self._check_encodings(encodings, "probe encodings")
        if not self.num_vectors:
            return [(float("inf"), constants.NOT_RECOGNIZED) for _ in range(len(probes))]
        block = max(1, _CHUNK_ELEMENTS // max(1, self.num_vectors))
        answers: list[tuple[float, str]] = []
        for start in range(0, len(probes), block):
            chunk = probes[start:start + block]
            if len(chunk) == 1 and self.num_vectors < _SINGLE_THREAD_ROWS:
                # One probe, small database: einsum's own loop. A multithreaded BLAS call costs a
                # scheduler time slice (5-10 ms) whenever another process holds a core.
                products = np.einsum("ij,j->i", self._vectors, chunk[0])
                scores = (self._half_squared_norms - products)[None, :]
            elif len(chunk) == 1:  # large database: memory-bound matrix-vector product
                scores = (self._half_squared_norms - self._vectors @ chunk[0])[None, :]
            else:
                scores = self._half_squared_norms[None, :] - chunk @ self._vectors.T
            nearest = np.argmin(scores, axis=1)
            exact = np.linalg.norm(self._vectors[nearest] - chunk, axis=1)
            for distance, row in zip(exact, nearest):
                name = self._names[self._labels[row]]
                answers.append((float(distance),
                                name if distance < self.threshold else constants.NOT_RECOGNIZED))
        return answers

    # ----------------------------------------------------------------------------- files
    @classmethod
    def from_dict(cls, encodings: dict, threshold: float | None = None) -> "FaceDatabase":
        """Build from the course's ``{name: encoding (1, 128) or (k, 128)}`` dictionary."""
        database = cls(threshold=threshold)
        for name, value in encodings.items():
            database.enroll(name, np.asarray(value))
        return database

    def save(self, path) -> Path:
        """Write the database to ``path`` (.npz) atomically; returns the path."""
        path = Path(path)
        arrays = dict(
            kind=np.array(_FILE_KIND),
            format_version=np.array(FORMAT_VERSION, dtype=np.int64),
            threshold=np.array(self.threshold, dtype=np.float64),
            identities=np.array(self._names, dtype=np.str_).reshape(len(self._names)),
            labels=self._labels.astype(np.int32),
            vectors=self._vectors.astype(np.float32),
        )
        with files.atomic_write(path, "wb") as handle:
            np.savez(handle, **arrays)
        return path

    @classmethod
    def load(cls, path, threshold: float | None = None) -> "FaceDatabase":
        """Read a database written by :meth:`save`.

        Args:
            path: the ``.npz`` file.
            threshold: override the saved threshold.

        Raises:
            FileNotFoundError: no such file.
            utils.errors.DatabaseError: the file is truncated, corrupt, of another version or not
                a database.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"face database not found: {path} (create it with "
                                    f"`python -m utils.faces enroll --db {path} --name NAME IMAGE`)")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
            raise DatabaseError(f"{path} is not a readable face database (truncated or corrupt "
                                f"file?): {error}") from None
        return cls._from_arrays(arrays, path, threshold)

    @classmethod
    def _from_arrays(cls, arrays: dict, path: Path, threshold: float | None) -> "FaceDatabase":
        needed = {"kind", "format_version", "threshold", "identities", "labels", "vectors"}
        missing = needed - set(arrays)
        if missing or str(arrays.get("kind", "")) != _FILE_KIND:
            raise DatabaseError(f"{path} is not a face database written by FaceDatabase.save "
                                f"(missing {sorted(missing) or 'the kind marker'})")
        version = int(arrays["format_version"])
        if version != FORMAT_VERSION:
            raise DatabaseError(f"{path} has format version {version}; this code reads version "
                                f"{FORMAT_VERSION}")
        names, labels, vectors = arrays["identities"], arrays["labels"], arrays["vectors"]
        problems = []
        if names.ndim != 1 or names.dtype.kind != "U":
            problems.append(f"identities has shape {names.shape} dtype {names.dtype}")
        if vectors.ndim != 2 or vectors.dtype != np.float32:
            problems.append(f"vectors has shape {vectors.shape} dtype {vectors.dtype}")
        elif not np.all(np.isfinite(vectors)):
            problems.append("vectors hold NaN or infinite values")
        if labels.shape != (vectors.shape[0],) or labels.dtype.kind not in "iu":
            problems.append(f"labels has shape {labels.shape} for {vectors.shape[0]} vectors")
        elif len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
            problems.append("labels point outside the identity list")
        if len(set(names.tolist())) != len(names):
            problems.append("identities are not unique")
        if problems:
            raise DatabaseError(f"{path} is corrupt: " + "; ".join(problems))
        saved_threshold = float(arrays["threshold"])
        database = cls(threshold=saved_threshold if threshold is None else threshold,
                       dimension=vectors.shape[1])
        database._names = [str(name) for name in names]
        database._index = {name: position for position, name in enumerate(database._names)}
        if len(vectors):
            database._append(vectors.astype(np.float32), labels.astype(np.int32))
        return database


def _describe(value) -> str:
    if isinstance(value, (str, os.PathLike)):
        return f"the path {str(value)!r}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"an array of shape {shape} and dtype {getattr(value, 'dtype', '?')}"
    return f"a {type(value).__name__}"
