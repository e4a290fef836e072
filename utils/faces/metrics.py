"""Verification metrics on pair distances: error rates, accuracy, best threshold, ROC, AUC, EER, VAL@FAR.

Every function takes ``distances`` (one per pair of faces, smaller = more alike) and ``same``
(True for a pair of the same person). Two faces are declared "the same person" when their
distance is *strictly below* a threshold ``t``; so a pair's score, in the usual "higher means
positive" sense, is ``-distance``. The false accept rate (FAR) is the fraction of
different-people pairs accepted, the true accept rate (TAR) the fraction of same-person pairs
accepted, and the false reject rate FRR = 1 - TAR.

The ROC curve and its area come from scikit-learn (``sklearn.metrics.roc_curve`` and
``roc_auc_score`` on the scores ``-distance``, imported on first use); the thresholds of the ROC
points are translated into this module's "distance < t" rule. :func:`best_threshold` and
:func:`accuracy_at` are what the LFW protocol (:mod:`utils.faces.lfw`) uses on each fold.

Example:
    >>> from utils.faces import metrics
    >>> distances, same = [0.1, 0.2, 0.3, 0.6, 0.4, 0.5, 0.7, 0.8], [1, 1, 1, 1, 0, 0, 0, 0]
    >>> metrics.best_threshold(distances, same)
    (0.35, 0.875)
    >>> metrics.accuracy_at(distances, same, 0.65)
    0.75
    >>> metrics.auc(distances, same)          # 14 of the 16 (same, different) pairs are ordered right
    0.875
"""

from __future__ import annotations

import dataclasses

import numpy as np

from utils.errors import UsageError

#: Target FAR of the VAL figure (:func:`val_at_far`).
VAL_FAR = 1e-3


def validate_pairs(distances, same) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert per-pair distances and labels.

    Args:
        distances: ``(n,)`` finite numbers.
        same: ``(n,)`` labels (bool or 0/1).

    Returns:
        ``(distances float64 (n,), same bool (n,))``.

    Raises:
        utils.errors.UsageError: different lengths, no pairs, or non-finite distances.
    """
    distances = np.asarray(distances, dtype=np.float64).ravel()
    same = np.asarray(same, dtype=bool).ravel()
    if distances.shape != same.shape or distances.size == 0:
        raise UsageError(f"need as many distances as labels (>0); got {distances.shape} and {same.shape}")
    if not np.all(np.isfinite(distances)):
        raise UsageError("distances hold NaN or infinite values")
    return distances, same


def _require_both_kinds(same: np.ndarray) -> None:
    if same.all() or not same.any():
        raise UsageError("ROC needs both matched and mismatched pairs")


def _acceptance_thresholds(distinct: np.ndarray) -> np.ndarray:
    """Thresholds ``t`` (accept ``d < t``) that accept the first 0, 1, ..., m of ``m`` sorted distinct distances.

    Each lies midway between the last accepted and the first rejected distance; the two ends lie
    1 % of the distance range outside it.
    """
    thresholds = np.empty(len(distinct) + 1)
    thresholds[1:-1] = 0.5 * (distinct[:-1] + distinct[1:])
    span = max(distinct[-1] - distinct[0], 1e-6)
    thresholds[0] = distinct[0] - 0.01 * span
    thresholds[-1] = distinct[-1] + 0.01 * span
    return thresholds


def accuracy_at(distances, same, threshold: float) -> float:
    """Fraction of pairs classified right when "same" means ``distance < threshold``."""
    distances, same = validate_pairs(distances, same)
    return float(np.mean((distances < threshold) == same))


@dataclasses.dataclass(frozen=True)
class ErrorRates:
    """False accepts and false rejects of the rule "same person if distance < threshold".

    Attributes:
        threshold: the threshold scored.
        false_accepts: different-people pairs accepted (``distance < threshold``).
        impostors: different-people pairs in all.
        false_rejects: same-person pairs refused (``distance >= threshold``).
        genuines: same-person pairs in all.
    """

    threshold: float
    false_accepts: int
    impostors: int
    false_rejects: int
    genuines: int

    @property
    def far(self) -> float:
        """False accept rate: the share of different-people pairs accepted (NaN without any)."""
        return self.false_accepts / self.impostors if self.impostors else float("nan")

    @property
    def frr(self) -> float:
        """False reject rate: the share of same-person pairs refused (NaN without any)."""
        return self.false_rejects / self.genuines if self.genuines else float("nan")

    def __str__(self) -> str:
        return (
            f"at tau = {self.threshold:.3g}: {self.false_accepts} of {self.impostors} different-people pairs "
            f"accepted (FAR {100 * self.far:.1f} %), {self.false_rejects} of {self.genuines} same-person "
            f"pairs refused (FRR {100 * self.frr:.1f} %)"
        )


def error_rates(distances, same, threshold: float) -> ErrorRates:
    """Count the false accepts and false rejects of "same person if ``distance < threshold``".

    Args:
        distances: ``(n,)`` distances of pairs (or claims: probe vs claimed identity).
        same: ``(n,)`` True for a same-person pair.
        threshold: the decision threshold.

    Returns:
        :class:`ErrorRates` (counts, and the rates as ``far`` / ``frr``).

    Example:
        >>> rates = error_rates([0.3, 0.45, 0.55, 0.58, 0.7], [True, True, False, False, False], 0.6)
        >>> rates.false_accepts, rates.impostors, rates.false_rejects, round(rates.far, 3)
        (2, 3, 0, 0.667)
        >>> print(rates)
        at tau = 0.6: 2 of 3 different-people pairs accepted (FAR 66.7 %), 0 of 2 same-person pairs refused (FRR 0.0 %)
    """
    distances, same = validate_pairs(distances, same)
    accepted = distances < threshold
    return ErrorRates(
        threshold=float(threshold),
        false_accepts=int(np.count_nonzero(accepted & ~same)),
        impostors=int(np.count_nonzero(~same)),
        false_rejects=int(np.count_nonzero(~accepted & same)),
        genuines=int(np.count_nonzero(same)),
    )


def best_threshold(distances, same) -> tuple[float, float]:
    """Threshold maximising accuracy, and that accuracy.

    Every cut between distinct distances is tried (vectorised after one sort). Among equally
    good cuts the middle one is taken; the threshold is the midpoint between the neighbouring
    distances.

    Example:
        >>> best_threshold([0.1, 0.2, 0.8, 0.9], [True, True, False, False])
        (0.5, 1.0)
    """
    distances, same = validate_pairs(distances, same)
    order = np.argsort(distances, kind="stable")
    sorted_distances = distances[order]
    matched_below = np.concatenate([[0], np.cumsum(same[order])])
    mismatched_below = np.arange(len(distances) + 1) - matched_below
    # cut k = "the first k sorted distances are accepted"; only cuts between distinct values (and 0, n)
    distinct = np.concatenate([[True], sorted_distances[1:] > sorted_distances[:-1], [True]])
    cuts = np.flatnonzero(distinct)
    n_mismatched = int(np.count_nonzero(~same))
    correct = matched_below[cuts] + (n_mismatched - mismatched_below[cuts])
    best = np.flatnonzero(correct == correct.max())
    chosen = best[len(best) // 2]
    threshold = float(_acceptance_thresholds(sorted_distances[cuts[1:] - 1])[chosen])
    return threshold, float(correct[chosen] / len(distances))


def roc_curve(distances, same) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of "same if distance < t" over all thresholds.

    Returns:
        ``(far, tar, thresholds)``: false accept rate (mismatched pairs accepted), true accept rate
        (matched pairs accepted), both increasing from 0 to 1, one point per cut between distinct
        distances, and the threshold of each point.

    Example:
        >>> far, tar, thresholds = roc_curve([0.2, 0.4, 0.3], [True, True, False])
        >>> far.tolist(), tar.tolist()
        ([0.0, 0.0, 1.0, 1.0], [0.0, 0.5, 0.5, 1.0])
        >>> thresholds.round(3).tolist()
        [0.198, 0.25, 0.35, 0.402]
    """
    from sklearn.metrics import roc_curve as sklearn_roc_curve  # deferred: scikit-learn is slow to import

    distances, same = validate_pairs(distances, same)
    _require_both_kinds(same)
    far, tar, _ = sklearn_roc_curve(same, -distances, drop_intermediate=False)
    # scikit-learn accepts "score >= s" at each distinct score, i.e. the first 0, 1, ..., m distinct
    # distances; the thresholds of this module's rule "distance < t" lie between them.
    thresholds = _acceptance_thresholds(np.unique(distances))
    if len(thresholds) != len(far):
        raise RuntimeError(f"scikit-learn's ROC has {len(far)} points for {len(thresholds) - 1} distinct distances")
    return far, tar, thresholds


def auc(distances, same) -> float:
    """Area under the ROC: the probability that a same-person pair is closer than a different-people
    pair (ties count one half, i.e. the Mann-Whitney statistic)."""
    from sklearn.metrics import roc_auc_score  # deferred: scikit-learn is slow to import

    distances, same = validate_pairs(distances, same)
    _require_both_kinds(same)
    return float(roc_auc_score(same, -distances))


def equal_error_rate(distances, same) -> tuple[float, float]:
    """Equal error rate: where FAR equals FRR = 1 - TAR on the ROC (linear interpolation).

    Returns:
        ``(eer, threshold)``.

    Example:
        >>> round(equal_error_rate([0.1, 0.2, 0.3, 0.6, 0.4, 0.5, 0.7, 0.8],
        ...                        [1, 1, 1, 1, 0, 0, 0, 0])[0], 6)
        0.25
    """
    far, tar, thresholds = roc_curve(distances, same)
    frr = 1.0 - tar
    difference = far - frr  # goes from -1 up to +1
    index = int(np.argmax(difference >= 0))
    if difference[index] == 0 or index == 0:
        return float(far[index]), float(thresholds[index])
    weight = -difference[index - 1] / (difference[index] - difference[index - 1])
    eer = far[index - 1] + weight * (far[index] - far[index - 1])
    threshold = thresholds[index - 1] + weight * (thresholds[index] - thresholds[index - 1])
    return float(eer), float(threshold)


def val_at_far(distances, same, far_target: float = VAL_FAR) -> tuple[float, float, float]:
    """Validation rate (TAR) at the largest threshold whose FAR does not exceed ``far_target``.

    With ``m`` mismatched pairs FAR moves in steps of ``1/m``; for m < 1000 only FAR = 0 is
    at or below 1e-3.

    Returns:
        ``(val, far_reached, threshold)``.

    Example:
        >>> val_at_far([0.1, 0.2, 0.3, 0.6, 0.4, 0.5, 0.7, 0.8], [1, 1, 1, 1, 0, 0, 0, 0])[:2]
        (0.75, 0.0)
    """
    far, tar, thresholds = roc_curve(distances, same)
    allowed = np.flatnonzero(far <= far_target + 1e-12)
    index = allowed[-1]
    return float(tar[index]), float(far[index]), float(thresholds[index])
