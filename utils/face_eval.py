"""LFW-protocol evaluation of face verification: pairs, k-fold accuracy, ROC/AUC, EER, VAL@FAR.

Protocol (LFW View 2, "unrestricted, labelled outside data"): the pairs file is split into
folds; for each fold the decision threshold is the one that maximises accuracy on the *other*
folds, and the accuracy on the held-out fold is recorded. We report the mean and standard
deviation over folds (and the standard error, std / sqrt(k), that the LFW readme asks for).
ROC, AUC, EER and VAL at FAR = 1e-3 are computed on all pairs pooled. Two faces "match" when
their Euclidean distance is strictly below the threshold.

Every image is detected, aligned and encoded once, however many pairs use it. Aligned chips are
cached on disk under ``datasets/cache/`` (gitignored) as ``.npz`` (no pickle), keyed per image by
its path, size and modification time and per file by the alignment settings, so a second run
skips MTCNN entirely.

Example:
    >>> from utils import assets, face_eval
    >>> lfw = assets.resolve("lfw")                                      # doctest: +SKIP
    >>> result = face_eval.evaluate_lfw(lfw / "pairs.txt", lfw / "images")  # doctest: +SKIP
    >>> print(result.summary())                                          # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from utils import config, face_align, image_io

#: Where aligned chips are cached (gitignored).
CACHE_DIR = config.REPO_ROOT / "datasets" / "cache"

#: Bump when the chip-making code changes in a way that changes chips.
CHIP_CACHE_VERSION = 1

#: Target FAR for the VAL figure.
VAL_FAR = 1e-3


@dataclasses.dataclass(frozen=True)
class Pair:
    """One LFW pair: images ``name_a/name_a_{index_a:04d}.jpg`` and the same for b."""

    fold: int
    same: bool
    name_a: str
    index_a: int
    name_b: str
    index_b: int

    def paths(self, images_dir) -> tuple[Path, Path]:
        """Paths of the two images under ``images_dir`` (``<Name>/<Name>_NNNN.jpg``)."""
        return (lfw_image_path(images_dir, self.name_a, self.index_a),
                lfw_image_path(images_dir, self.name_b, self.index_b))


def lfw_image_path(images_dir, name: str, index: int) -> Path:
    """``images_dir/<name>/<name>_<index:04d>.jpg``."""
    return Path(images_dir) / name / f"{name}_{int(index):04d}.jpg"


def read_pairs(pairs_txt) -> list[Pair]:
    """Parse an official LFW ``pairs.txt`` (any number of folds).

    Format: a header ``n_folds n_per_fold``; then, per fold, ``n_per_fold`` matched lines
    ``name n1 n2`` followed by ``n_per_fold`` mismatched lines ``name1 n1 name2 n2``
    (whitespace separated).

    Args:
        pairs_txt: path of the file.

    Returns:
        List of :class:`Pair` in file order, ``fold`` counting from 0.

    Raises:
        ValueError: malformed header or line (the message names the file and line number).
    """
    path = Path(pairs_txt)
    if not path.is_file():
        raise FileNotFoundError(f"pairs file not found: {path}")
    lines = [(number, line.split()) for number, line in enumerate(path.read_text().splitlines(), 1)
             if line.strip()]
    if not lines:
        raise ValueError(f"{path} is empty")
    header_number, header = lines[0]
    try:
        n_folds, n_per_fold = (int(value) for value in header)
        if n_folds < 1 or n_per_fold < 1:
            raise ValueError
    except ValueError:
        raise ValueError(f"{path}:{header_number}: header must be 'n_folds n_per_fold', got "
                         f"{' '.join(header)!r}") from None
    expected = 2 * n_folds * n_per_fold
    body = lines[1:]
    if len(body) != expected:
        raise ValueError(f"{path}: header promises {n_folds} folds x {n_per_fold} matched + "
                         f"{n_per_fold} mismatched = {expected} pairs, found {len(body)} lines")
    pairs = []
    for position, (number, fields) in enumerate(body):
        fold, within = divmod(position, 2 * n_per_fold)
        same = within < n_per_fold
        try:
            if same:
                if len(fields) != 3:
                    raise ValueError
                pairs.append(Pair(fold, True, fields[0], int(fields[1]), fields[0], int(fields[2])))
            else:
                if len(fields) != 4:
                    raise ValueError
                pairs.append(Pair(fold, False, fields[0], int(fields[1]), fields[2], int(fields[3])))
        except ValueError:
            kind = "matched 'name n1 n2'" if same else "mismatched 'name1 n1 name2 n2'"
            raise ValueError(f"{path}:{number}: expected a {kind} line in fold {fold + 1}, got "
                             f"{' '.join(fields)!r}") from None
    return pairs


def subset_pairs(pairs: Sequence[Pair], max_pairs_per_fold: int | None) -> list[Pair]:
    """Keep at most ``max_pairs_per_fold`` pairs per fold, half matched and half mismatched."""
    if max_pairs_per_fold is None:
        return list(pairs)
    half = max(1, max_pairs_per_fold // 2)
    kept, counts = [], {}
    for pair in pairs:
        key = (pair.fold, pair.same)
        if counts.get(key, 0) < half:
            counts[key] = counts.get(key, 0) + 1
            kept.append(pair)
    return kept


# ------------------------------------------------------------------------------------ metrics
def _check(distances, same) -> tuple[np.ndarray, np.ndarray]:
    distances = np.asarray(distances, dtype=np.float64).ravel()
    same = np.asarray(same, dtype=bool).ravel()
    if distances.shape != same.shape or distances.size == 0:
        raise ValueError(f"need as many distances as labels (>0); got {distances.shape} and {same.shape}")
    if not np.all(np.isfinite(distances)):
        raise ValueError("distances hold NaN or infinite values")
    return distances, same


def _sorted_counts(distances: np.ndarray, same: np.ndarray):
    """Cumulative counts at every cut between distinct sorted distances.

    Returns ``(cuts, matched_below, mismatched_below, sorted_distances)`` where cut ``k`` means
    "the first k sorted distances are accepted"; only cuts between distinct values (and 0, n).
    """
    order = np.argsort(distances, kind="stable")
    sorted_distances = distances[order]
    sorted_same = same[order]
    matched_below = np.concatenate([[0], np.cumsum(sorted_same)])
    mismatched_below = np.arange(len(distances) + 1) - matched_below
    distinct = np.concatenate([[True], sorted_distances[1:] > sorted_distances[:-1], [True]])
    cuts = np.flatnonzero(distinct)
    return cuts, matched_below[cuts], mismatched_below[cuts], sorted_distances


def _cut_thresholds(cuts: np.ndarray, sorted_distances: np.ndarray) -> np.ndarray:
    """Threshold realising each cut (accept d < t): midpoints, and outside the range at the ends."""
    n = len(sorted_distances)
    low = sorted_distances[np.clip(cuts - 1, 0, n - 1)]
    high = sorted_distances[np.clip(cuts, 0, n - 1)]
    thresholds = 0.5 * (low + high)
    span = max(sorted_distances[-1] - sorted_distances[0], 1e-6)
    thresholds[cuts == 0] = sorted_distances[0] - 0.01 * span
    thresholds[cuts == n] = sorted_distances[-1] + 0.01 * span
    return thresholds


def accuracy_at(distances, same, threshold: float) -> float:
    """Fraction of pairs classified right when "same" means ``distance < threshold``."""
    distances, same = _check(distances, same)
    return float(np.mean((distances < threshold) == same))


def best_threshold(distances, same) -> tuple[float, float]:
    """Threshold maximising accuracy, and that accuracy.

    Every cut between distinct distances is tried (vectorised after one sort). Among equally
    good cuts the middle one is taken; the threshold is the midpoint between the neighbouring
    distances.

    Example:
        >>> best_threshold([0.1, 0.2, 0.8, 0.9], [True, True, False, False])
        (0.5, 1.0)
    """
    distances, same = _check(distances, same)
    cuts, matched_below, mismatched_below, sorted_distances = _sorted_counts(distances, same)
    n_mismatched = int(np.count_nonzero(~same))
    correct = matched_below + (n_mismatched - mismatched_below)
    best = np.flatnonzero(correct == correct.max())
    chosen = best[len(best) // 2]
    threshold = float(_cut_thresholds(cuts[chosen:chosen + 1], sorted_distances)[0])
    return threshold, float(correct[chosen] / len(distances))


def roc_curve(distances, same) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of "same if distance < t" over all thresholds.

    Returns:
        ``(far, tar, thresholds)``: false accept rate (mismatched pairs accepted), true accept rate
        (matched pairs accepted), both increasing from 0 to 1, and the threshold of each point.
    """
    distances, same = _check(distances, same)
    n_matched = int(np.count_nonzero(same))
    n_mismatched = len(same) - n_matched
    if n_matched == 0 or n_mismatched == 0:
        raise ValueError("ROC needs both matched and mismatched pairs")
    cuts, matched_below, mismatched_below, sorted_distances = _sorted_counts(distances, same)
    return (mismatched_below / n_mismatched, matched_below / n_matched,
            _cut_thresholds(cuts, sorted_distances))


def auc(distances, same) -> float:
    """Area under the ROC (trapezoids; ties count one half, i.e. the Mann-Whitney statistic)."""
    far, tar, _ = roc_curve(distances, same)
    return float(np.sum(np.diff(far) * (tar[1:] + tar[:-1]) / 2.0))


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
    """
    far, tar, thresholds = roc_curve(distances, same)
    allowed = np.flatnonzero(far <= far_target + 1e-12)
    index = allowed[-1]
    return float(tar[index]), float(far[index]), float(thresholds[index])


@dataclasses.dataclass
class EvaluationResult:
    """Figures of one evaluation (see :func:`evaluate_distances`)."""

    pairs: int
    folds: int
    fold_accuracies: list[float]
    fold_thresholds: list[float]
    accuracy: float
    accuracy_std: float
    accuracy_sem: float
    threshold: float
    threshold_fitted: bool
    auc: float
    eer: float
    eer_threshold: float
    val_at_far: float
    far_reached: float
    distances: np.ndarray = dataclasses.field(repr=False)
    same: np.ndarray = dataclasses.field(repr=False)
    extra: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready figures (no per-pair arrays)."""
        data = {
            "pairs": self.pairs,
            "folds": self.folds,
            "accuracy": self.accuracy,
            "accuracy_std": self.accuracy_std,
            "accuracy_sem": self.accuracy_sem,
            "fold_accuracies": self.fold_accuracies,
            "fold_thresholds": self.fold_thresholds,
            "threshold": self.threshold,
            "threshold_fitted": self.threshold_fitted,
            "auc": self.auc,
            "eer": self.eer,
            "eer_threshold": self.eer_threshold,
            "val_at_far_1e-3": self.val_at_far,
            "far_reached_for_val": self.far_reached,
        }
        data.update(self.extra)
        return data

    def summary(self) -> str:
        """Human-readable summary."""
        how = "fitted on the other folds" if self.threshold_fitted else "fixed"
        lines = [
            f"pairs: {self.pairs} in {self.folds} fold(s)",
            f"accuracy: {100 * self.accuracy:.2f} % +- {100 * self.accuracy_std:.2f} (std over folds; "
            f"folds: {', '.join(f'{100 * a:.2f}' for a in self.fold_accuracies)})",
            f"threshold: {self.threshold:.4f} ({how})",
            f"AUC: {self.auc:.5f}   EER: {100 * self.eer:.2f} % (at {self.eer_threshold:.4f})",
            f"VAL @ FAR<=1e-3: {100 * self.val_at_far:.2f} % (FAR reached {self.far_reached:.2g})",
        ]
        for key, value in self.extra.items():
            lines.append(f"{key}: {value}")
        return "\n".join(lines)


def evaluate_distances(distances, same, folds, threshold: float | None = None,
                       extra: dict | None = None) -> EvaluationResult:
    """k-fold verification figures from per-pair distances.

    Args:
        distances: ``(n,)`` distance of each pair.
        same: ``(n,)`` bool, True for matched pairs.
        folds: ``(n,)`` fold number of each pair.
        threshold: score this fixed threshold on every fold instead of fitting one. With a single
            fold and no threshold, the threshold is fitted on that fold itself (optimistic).
        extra: additional entries for :meth:`EvaluationResult.to_dict`.

    Returns:
        :class:`EvaluationResult`.
    """
    distances, same = _check(distances, same)
    folds = np.asarray(folds).ravel()
    if folds.shape != distances.shape:
        raise ValueError(f"folds has shape {folds.shape}, distances {distances.shape}")
    fold_ids = np.unique(folds)
    accuracies, thresholds = [], []
    for fold in fold_ids:
        test = folds == fold
        train = ~test if len(fold_ids) > 1 else test
        fold_threshold = threshold if threshold is not None else best_threshold(distances[train], same[train])[0]
        thresholds.append(float(fold_threshold))
        accuracies.append(accuracy_at(distances[test], same[test], fold_threshold))
    overall_threshold = threshold if threshold is not None else best_threshold(distances, same)[0]
    eer, eer_threshold = equal_error_rate(distances, same)
    val, far_reached, _ = val_at_far(distances, same)
    std = float(np.std(accuracies))
    return EvaluationResult(
        pairs=len(distances), folds=len(fold_ids), fold_accuracies=[float(a) for a in accuracies],
        fold_thresholds=thresholds, accuracy=float(np.mean(accuracies)), accuracy_std=std,
        accuracy_sem=std / np.sqrt(len(fold_ids)), threshold=float(overall_threshold),
        threshold_fitted=threshold is None, auc=auc(distances, same), eer=eer,
        eer_threshold=eer_threshold, val_at_far=val, far_reached=far_reached,
        distances=distances, same=same, extra=dict(extra or {}))


def plot_evaluation(result: EvaluationResult):
    """ROC curve (log FAR axis) and the matched / mismatched distance histograms.

    Returns:
        matplotlib ``Figure`` with two axes.
    """
    import matplotlib

    if not os.environ.get("DISPLAY") and "inline" not in matplotlib.get_backend().lower():
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    far, tar, _ = roc_curve(result.distances, result.same)
    figure, (roc_axes, histogram_axes) = plt.subplots(1, 2, figsize=(11, 4.2))
    floor = 0.5 / max(1, int(np.count_nonzero(~result.same)))
    roc_axes.plot(np.maximum(far, floor), tar, lw=2)
    roc_axes.set_xscale("log")
    roc_axes.set_xlim(floor, 1.0)
    roc_axes.set_xlabel("false accept rate (log)")
    roc_axes.set_ylabel("true accept rate")
    roc_axes.set_title(f"ROC, AUC = {result.auc:.4f}, EER = {100 * result.eer:.2f} %")
    roc_axes.grid(True, which="both", alpha=0.3)
    bins = np.linspace(result.distances.min(), result.distances.max(), 50)
    histogram_axes.hist(result.distances[result.same], bins=bins, alpha=0.6, label="same person")
    histogram_axes.hist(result.distances[~result.same], bins=bins, alpha=0.6, label="different people")
    histogram_axes.axvline(result.threshold, color="k", ls="--", label=f"threshold {result.threshold:.3f}")
    histogram_axes.set_xlabel("Euclidean distance between encodings")
    histogram_axes.set_ylabel("pairs")
    histogram_axes.set_title(f"accuracy {100 * result.accuracy:.2f} % over {result.folds} fold(s)")
    histogram_axes.legend()
    figure.tight_layout()
    return figure


# ------------------------------------------------------------------------------------ chip cache
def chip_settings() -> dict:
    """Everything that changes a cached chip; hashed into the cache file name."""
    from importlib import metadata

    try:
        detector_version = metadata.version("mtcnn")  # without importing mtcnn (and TensorFlow)
    except metadata.PackageNotFoundError:
        detector_version = "?"
    return {
        "version": CHIP_CACHE_VERSION,
        "template": face_align.CHIP_TEMPLATE.round(4).tolist(),
        "size": face_align.CHIP_SIZE,
        "detector": f"mtcnn-{detector_version}",
        "min_confidence": face_align.MIN_CONFIDENCE,
        "retries": [list(map(str, strategy)) for strategy in face_align.RETRY_STRATEGIES],
        "small_side": face_align.SMALL_IMAGE_SIDE,
        "max_detect_side": face_align.MAX_DETECT_SIDE,
    }


def _file_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _cache_path(policy: str, cache_dir: Path) -> Path:
    settings = dict(chip_settings(), policy=policy)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"face_chips_{policy}_{digest}.npz"


def _read_cache(path: Path) -> dict[str, tuple[np.ndarray | None, bool]]:
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, chips, found = data["keys"], data["chips"], data["found"]
        if len(keys) != len(chips) or len(keys) != len(found):
            raise ValueError("array lengths differ")
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        print(f"warning: ignoring unreadable chip cache {path}: {error}")
        return {}
    return {str(key): (chip, bool(ok)) for key, chip, ok in zip(keys, chips, found)}


def _write_cache(path: Path, entries: dict[str, tuple[np.ndarray | None, bool]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    size = face_align.CHIP_SIZE
    keys = sorted(entries)
    blank = np.zeros((size, size, 3), np.uint8)
    chips = np.stack([entries[key][0] if entries[key][1] else blank for key in keys]) if keys else \
        np.zeros((0, size, size, 3), np.uint8)
    found = np.array([entries[key][1] for key in keys], dtype=bool)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            np.savez(handle, keys=np.array(keys, dtype=np.str_), chips=chips, found=found)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(handle.name, 0o666 & ~mask)  # temporary files are created 0600
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def load_face_chips(paths: Sequence, policy: str = "central", use_cache: bool = True,
                    cache_dir: Path | None = None, progress: bool = False,
                    refresh_cache: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Aligned chip of the chosen face of each image file, with an on-disk cache.

    Args:
        paths: image files.
        policy: ``"central"`` (LFW images are centred on the labelled person) or ``"largest"``.
        use_cache: read and update the cache file in ``cache_dir``.
        cache_dir: defaults to :data:`CACHE_DIR` (``datasets/cache/``).
        progress: show progress bars.
        refresh_cache: recompute every chip (ignore what the cache holds) and store the result.

    Returns:
        ``(chips uint8 (n, 150, 150, 3), found bool (n,))``; where no face was found the chip is
        black and ``found`` False.
    """
    paths = [Path(path) for path in paths]
    cache_file = _cache_path(policy, Path(cache_dir or CACHE_DIR))
    entries = _read_cache(cache_file) if use_cache and not refresh_cache else {}
    keys = [_file_key(path) if path.is_file() else str(path) for path in paths]
    todo = [index for index, key in enumerate(keys) if key not in entries]
    if todo:
        missing_files = [str(paths[index]) for index in todo if not paths[index].is_file()]
        if missing_files:
            raise FileNotFoundError(f"{len(missing_files)} image(s) not found, e.g. {missing_files[0]}")
        arrays = [image_io.load_image(paths[index]) for index in todo]
        detections = face_align.detect_faces_batch(arrays, progress=progress)
        chips = face_align.chips_from_detections(arrays, detections, policy=policy)
        for index, chip in zip(todo, chips):
            entries[keys[index]] = (chip[0], True) if chip is not None else (None, False)
        if use_cache:
            _write_cache(cache_file, entries)
    blank = np.zeros((face_align.CHIP_SIZE, face_align.CHIP_SIZE, 3), np.uint8)
    found = np.array([entries[key][1] for key in keys], dtype=bool)
    chips = np.stack([entries[key][0] if entries[key][1] else blank for key in keys])
    return chips, found


def _center_chip(path: Path) -> np.ndarray:
    """Fallback chip for an LFW image with no detected face: its central region, resized.

    LFW deep-funneled images are 250x250 with the face in the central ~100 px; this is only used
    (and counted in the result as ``no_face_images``) when MTCNN finds nothing.
    """
    image = image_io.load_image(path)
    side = int(round(min(image.shape[:2]) * 0.56))
    return image_io.resize(image_io.center_crop(image, (side, side)), (face_align.CHIP_SIZE, face_align.CHIP_SIZE))


def evaluate_lfw(pairs_txt, images_dir, model=None, threshold: float | None = None, flip: bool | None = None,
                 max_pairs_per_fold: int | None = None, use_cache: bool = True, progress: bool = True,
                 batch_size: int = 32, refresh_cache: bool = False,
                 cache_dir: Path | None = None) -> EvaluationResult:
    """Run the LFW protocol end to end: pairs -> chips -> encodings -> k-fold figures.

    Args:
        pairs_txt: official ``pairs.txt`` (any number of folds).
        images_dir: folder with ``<Name>/<Name>_NNNN.jpg``.
        model: encoder (default ``utils.face_encoder.load_encoder()``).
        threshold: fixed threshold to score instead of fitting one per fold.
        flip: test-time flip averaging (default ``utils.faces.FLIP_DEFAULT``).
        max_pairs_per_fold: use a subset; default all pairs, 100 per fold in fast mode.
        use_cache: use the on-disk chip cache.
        refresh_cache: detect and align every image again (a cold run) and store the chips.
        cache_dir: folder of the chip cache (default :data:`CACHE_DIR`).
        progress: progress bars.
        batch_size: encoder batch size.

    Returns:
        :class:`EvaluationResult`; ``extra`` holds the timing breakdown (seconds), the number of
        images, images without a detected face, and the flip setting.
    """
    from utils import face_encoder, faces

    flip = faces.FLIP_DEFAULT if flip is None else flip
    if max_pairs_per_fold is None:
        max_pairs_per_fold = config.pick(normal=None, fast=100)
    pairs = subset_pairs(read_pairs(pairs_txt), max_pairs_per_fold)
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"images folder not found: {images_dir}")
    unique_paths: dict[Path, int] = {}
    pair_rows = []
    for pair in pairs:
        path_a, path_b = pair.paths(images_dir)
        pair_rows.append((unique_paths.setdefault(path_a, len(unique_paths)),
                          unique_paths.setdefault(path_b, len(unique_paths))))
    paths = list(unique_paths)

    started = time.perf_counter()
    chips, found = load_face_chips(paths, policy="central", use_cache=use_cache, progress=progress,
                                   refresh_cache=refresh_cache, cache_dir=cache_dir)
    for index in np.flatnonzero(~found):
        chips[index] = _center_chip(paths[index])
    chips_seconds = time.perf_counter() - started

    started = time.perf_counter()
    model = model if model is not None else face_encoder.load_encoder()
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    encodings = faces.encode_chips(chips, model=model, flip=flip, batch_size=batch_size)
    encode_seconds = time.perf_counter() - started

    started = time.perf_counter()
    rows = np.array(pair_rows)
    distances = np.linalg.norm(encodings[rows[:, 0]] - encodings[rows[:, 1]], axis=1)
    same = np.array([pair.same for pair in pairs])
    folds = np.array([pair.fold for pair in pairs])
    extra = {
        "images": len(paths),
        "no_face_images": int(np.count_nonzero(~found)),
        "flip": bool(flip),
        "seconds_detect_align": round(chips_seconds, 2),
        "seconds_load_model": round(load_seconds, 2),
        "seconds_encode": round(encode_seconds, 2),
    }
    result = evaluate_distances(distances, same, folds, threshold=threshold, extra=extra)
    result.extra["seconds_folds"] = round(time.perf_counter() - started, 3)
    return result
