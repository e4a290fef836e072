"""Synthetic face encodings drawn from the distribution of real ones: distractors for 1:K tests.

Measuring a 1:K search at K = 10^6 needs a million enrolled faces, and random Gaussian vectors
are the wrong stand-in: an index's recall and the false matches at the threshold depend on how
densely faces fill the space around a probe, and faces are not isotropic (dlib's 128-d encodings
spread over about 30 effective dimensions) and come in clusters, one per person.

:class:`DistractorModel` fits a two-level Gaussian to real encodings with their identities:

* the *within-person* covariance ``W``, pooled over the people with two or more photos (the
  spread of one person's photos around their mean);
* the *between-person* covariance ``B = C - W`` (``C`` the covariance of all encodings), clipped
  to be positive semi-definite: the spread of the people's centres around the global mean.

:meth:`DistractorModel.sample` draws synthetic people (centre ``~ N(mean, B)``) with a few photos
each (``~ N(centre, W)``), so the distractors have the real encodings' mean, covariance and
same-person distances. They are still an approximation (Gaussian tails, no age/pose structure);
the benchmark reports the distance from real probes to their nearest distractor so it can be
compared with real impostors.

Example:
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.normal(0, 0.3, (50, 8))
    >>> encodings = np.repeat(centres, 4, axis=0) + rng.normal(0, 0.05, (200, 8))
    >>> model = DistractorModel.fit(encodings, np.repeat(np.arange(50), 4))
    >>> vectors, people = model.sample(6, photos_per_identity=2, seed=1)
    >>> vectors.shape, vectors.dtype, people.tolist()
    ((6, 8), dtype('float32'), [0, 0, 1, 1, 2, 2])
    >>> round(float(np.sqrt(np.trace(model.within_covariance))), 2)   # about 0.05 * sqrt(8)
    0.14
"""

from __future__ import annotations

import dataclasses

import numpy as np

from utils.errors import UsageError

__all__ = ["DistractorModel"]

_SAMPLE_BLOCK = 1 << 17  # vectors drawn per block (float64 temporaries of 128 MB)


def _square_root(covariance: np.ndarray) -> np.ndarray:
    """``R`` with ``R @ R.T == covariance`` (negative eigenvalues, from estimation noise, set to 0)."""
    values, vectors = np.linalg.eigh((covariance + covariance.T) / 2)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


@dataclasses.dataclass(frozen=True)
class DistractorModel:
    """Mean, between-person and within-person covariances of face encodings.

    Attributes:
        mean: ``(d,)`` mean encoding.
        between_covariance: ``(d, d)`` covariance of the people's centres.
        within_covariance: ``(d, d)`` covariance of one person's photos around their centre.
        people: identities the model was fitted on; photos: encodings.
    """

    mean: np.ndarray
    between_covariance: np.ndarray
    within_covariance: np.ndarray
    people: int
    photos: int

    @classmethod
    def fit(cls, encodings, identities) -> DistractorModel:
        """Fit the model to real ``encodings`` ``(n, d)`` labelled with ``identities`` ``(n,)``.

        Raises:
            utils.errors.UsageError: shapes that do not match, or no person with two photos (the
                within-person spread cannot be estimated).
        """
        encodings = np.asarray(encodings, dtype=np.float64)
        identities = np.asarray(identities)
        if encodings.ndim != 2 or identities.shape != (len(encodings),):
            raise UsageError(
                f"fit needs encodings (n, d) and identities (n,); got {encodings.shape} and {identities.shape}"
            )
        _, person, counts = np.unique(identities, return_inverse=True, return_counts=True)
        person = person.ravel()
        repeated = counts[person] >= 2
        if not repeated.any():
            raise UsageError("fit needs at least one identity with two or more encodings")
        sums = np.zeros((len(counts), encodings.shape[1]))
        np.add.at(sums, person, encodings)
        deviations = encodings[repeated] - (sums / counts[:, None])[person[repeated]]
        degrees = int(repeated.sum()) - int(np.count_nonzero(counts >= 2))
        within = deviations.T @ deviations / max(1, degrees)
        total = np.cov(encodings, rowvar=False)
        root = _square_root(total - within)
        return cls(
            mean=encodings.mean(axis=0),
            between_covariance=root @ root.T,
            within_covariance=within,
            people=len(counts),
            photos=len(encodings),
        )

    @property
    def dimension(self) -> int:
        """Length of the encodings."""
        return int(self.mean.shape[0])

    def sample(self, count: int, photos_per_identity: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``count`` synthetic encodings of ``ceil(count / photos_per_identity)`` synthetic people.

        Returns:
            ``(encodings float32 (count, d), person int64 (count,))``; consecutive rows share a
            person (``person[i] == i // photos_per_identity``).
        """
        if count < 0 or photos_per_identity < 1:
            raise UsageError(
                f"sample needs count >= 0 and photos_per_identity >= 1; got {count}, {photos_per_identity}"
            )
        rng = np.random.default_rng(seed)
        between, within = _square_root(self.between_covariance), _square_root(self.within_covariance)
        person = np.arange(count, dtype=np.int64) // photos_per_identity
        output = np.empty((count, self.dimension), dtype=np.float32)
        block = _SAMPLE_BLOCK - _SAMPLE_BLOCK % photos_per_identity
        for start in range(0, count, block):
            rows = min(block, count - start)
            people = -(-rows // photos_per_identity)
            centres = self.mean + rng.standard_normal((people, self.dimension)) @ between.T
            photos = np.repeat(centres, photos_per_identity, axis=0)[:rows]
            output[start : start + rows] = photos + rng.standard_normal((rows, self.dimension)) @ within.T
        return output, person
