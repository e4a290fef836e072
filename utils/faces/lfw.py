"""The LFW verification protocol: pairs files, k-fold accuracy, and the whole evaluation pipeline.

Protocol (LFW View 2, "unrestricted, labelled outside data"): the pairs file is split into
folds; for each fold the decision threshold is the one that maximises accuracy on the *other*
folds (:func:`utils.faces.metrics.best_threshold`), and the accuracy on the held-out fold is
recorded. We report the mean and standard deviation over folds (and the standard error,
std / sqrt(k), that the LFW readme asks for). ROC, AUC, EER and VAL at FAR = 1e-3 are computed on
all pairs pooled (:mod:`utils.faces.metrics`). Two faces "match" when their Euclidean distance is
strictly below the threshold.

:func:`evaluate_lfw` runs it end to end: every image is detected, aligned and encoded once,
however many pairs use it, and the aligned chips come from the on-disk cache of
:mod:`utils.faces.chip_cache`, so a second run skips MTCNN entirely.

Example:
    >>> from utils.faces import lfw
    >>> result = lfw.evaluate_distances([0.1, 0.2, 0.8, 0.9, 0.3, 0.7], [1, 1, 0, 0, 1, 0], [0, 0, 0, 0, 1, 1])
    >>> result.accuracy, result.fold_thresholds
    (1.0, [0.5, 0.5])
    >>> from utils import assets
    >>> folder = assets.resolve("lfw")                                        # doctest: +SKIP
    >>> print(lfw.evaluate_lfw(folder / "pairs.txt", folder / "images").summary())   # doctest: +SKIP
    pairs: 1200 in 2 fold(s)
    accuracy: 99.00 % +- 0.17 (std over folds; folds: 98.83, 99.17)
    ...
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from utils import config, image_io
from utils.errors import UsageError
from utils.faces import chip_cache, constants, encoder, metrics


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
        return (
            lfw_image_path(images_dir, self.name_a, self.index_a),
            lfw_image_path(images_dir, self.name_b, self.index_b),
        )


def lfw_image_path(images_dir, name: str, index: int) -> Path:
    """``images_dir/<name>/<name>_<index:04d>.jpg``.

    Example:
        >>> lfw_image_path("images", "Ann_Smith", 3).as_posix()
        'images/Ann_Smith/Ann_Smith_0003.jpg'
    """
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
        FileNotFoundError: no such file.
        utils.errors.UsageError: malformed header or line (the message names the file and line
            number).
    """
    path = Path(pairs_txt)
    if not path.is_file():
        raise FileNotFoundError(f"pairs file not found: {path}")
    lines = [(number, line.split()) for number, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    if not lines:
        raise UsageError(f"{path} is empty")
    header_number, header = lines[0]
    try:
        n_folds, n_per_fold = (int(value) for value in header)
        if n_folds < 1 or n_per_fold < 1:
            raise ValueError
    except ValueError:
        raise UsageError(
            f"{path}:{header_number}: header must be 'n_folds n_per_fold', got {' '.join(header)!r}"
        ) from None
    expected = 2 * n_folds * n_per_fold
    body = lines[1:]
    if len(body) != expected:
        raise UsageError(
            f"{path}: header promises {n_folds} folds x {n_per_fold} matched + "
            f"{n_per_fold} mismatched = {expected} pairs, found {len(body)} lines"
        )
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
            raise UsageError(
                f"{path}:{number}: expected a {kind} line in fold {fold + 1}, got {' '.join(fields)!r}"
            ) from None
    return pairs


def subset_pairs(pairs: Sequence[Pair], max_pairs_per_fold: int | None) -> list[Pair]:
    """Keep at most ``max_pairs_per_fold`` pairs per fold, half matched and half mismatched.

    Example:
        >>> pairs = [Pair(0, True, "A", 1, "A", 2), Pair(0, True, "B", 1, "B", 2), Pair(0, False, "A", 1, "B", 1)]
        >>> [pair.name_b for pair in subset_pairs(pairs, 2)]
        ['A', 'B']
    """
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


@dataclasses.dataclass
class EvaluationResult:
    """Figures of one evaluation (see :func:`evaluate_distances`).

    ``distances``, ``same``, ``far`` and ``tar`` (the pooled ROC) hold the per-pair data for
    plots (:func:`utils.plotting.plot_verification`); :meth:`to_dict` leaves them out.
    """

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
    far: np.ndarray = dataclasses.field(repr=False, default=None)
    tar: np.ndarray = dataclasses.field(repr=False, default=None)
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


def evaluate_distances(
    distances, same, folds, threshold: float | None = None, extra: dict | None = None
) -> EvaluationResult:
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
    distances, same = metrics.validate_pairs(distances, same)
    folds = np.asarray(folds).ravel()
    if folds.shape != distances.shape:
        raise UsageError(f"folds has shape {folds.shape}, distances {distances.shape}")
    fold_ids = np.unique(folds)
    accuracies, thresholds = [], []
    for fold in fold_ids:
        test = folds == fold
        train = ~test if len(fold_ids) > 1 else test
        fold_threshold = (
            threshold if threshold is not None else metrics.best_threshold(distances[train], same[train])[0]
        )
        thresholds.append(float(fold_threshold))
        accuracies.append(metrics.accuracy_at(distances[test], same[test], fold_threshold))
    overall_threshold = threshold if threshold is not None else metrics.best_threshold(distances, same)[0]
    far, tar, _ = metrics.roc_curve(distances, same)
    eer, eer_threshold = metrics.equal_error_rate(distances, same)
    val, far_reached, _ = metrics.val_at_far(distances, same)
    std = float(np.std(accuracies))
    return EvaluationResult(
        pairs=len(distances),
        folds=len(fold_ids),
        fold_accuracies=[float(a) for a in accuracies],
        fold_thresholds=thresholds,
        accuracy=float(np.mean(accuracies)),
        accuracy_std=std,
        accuracy_sem=std / np.sqrt(len(fold_ids)),
        threshold=float(overall_threshold),
        threshold_fitted=threshold is None,
        auc=metrics.auc(distances, same),
        eer=eer,
        eer_threshold=eer_threshold,
        val_at_far=val,
        far_reached=far_reached,
        distances=distances,
        same=same,
        far=far,
        tar=tar,
        extra=dict(extra or {}),
    )


def center_chip(path) -> np.ndarray:
    """Fallback chip of an LFW image in which no face was detected: its central region, resized.

    LFW deep-funneled images are 250x250 with the face in the central ~100 px; the central 56 %
    (140x140 pixels) is resized to a 150x150 chip.
    """
    image = image_io.load_image(path)
    side = int(round(min(image.shape[:2]) * 0.56))
    return image_io.resize(image_io.center_crop(image, (side, side)), (constants.CHIP_SIZE, constants.CHIP_SIZE))


def load_lfw_chips(
    paths: Sequence, use_cache: bool = True, cache_dir=None, progress: bool = False, refresh_cache: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned chips of LFW images: the central face of each, its central region where none is found.

    Args:
        paths: LFW image files.
        use_cache, cache_dir, progress, refresh_cache: as for
            :func:`utils.faces.chip_cache.load_face_chips`.

    Returns:
        ``(chips uint8 (n, 150, 150, 3), found bool (n,))``; ``found`` is False where the chip is
        the :func:`center_chip` fallback.
    """
    chips, found = chip_cache.load_face_chips(
        paths,
        policy="central",
        use_cache=use_cache,
        cache_dir=cache_dir,
        progress=progress,
        refresh_cache=refresh_cache,
    )
    for index in np.flatnonzero(~found):
        chips[index] = center_chip(paths[index])
    return chips, found


#: Chips encoded between two updates of the progress bar of :func:`evaluate_lfw`.
PROGRESS_CHUNK = 128


def _encode_with_progress(chips: np.ndarray, model, flip: bool, batch_size: int, progress: bool) -> np.ndarray:
    """:func:`utils.faces.encoder.encode_chips`, in slices that advance a tqdm bar when ``progress``."""
    if not progress or len(chips) <= PROGRESS_CHUNK:
        return encoder.encode_chips(chips, model=model, flip=flip, batch_size=batch_size)
    from tqdm.auto import tqdm  # deferred: only progress bars need it

    parts = []
    with tqdm(total=len(chips), desc="encoding faces", unit="face") as bar:
        for start in range(0, len(chips), PROGRESS_CHUNK):
            parts.append(
                encoder.encode_chips(
                    chips[start : start + PROGRESS_CHUNK], model=model, flip=flip, batch_size=batch_size
                )
            )
            bar.update(len(parts[-1]))
    return np.concatenate(parts)


def evaluate_lfw(
    pairs_txt,
    images_dir,
    model=None,
    threshold: float | None = None,
    flip: bool | None = None,
    max_pairs_per_fold: int | None = None,
    use_cache: bool = True,
    progress: bool = True,
    batch_size: int = 32,
    refresh_cache: bool = False,
    cache_dir=None,
) -> EvaluationResult:
    """Run the LFW protocol end to end: pairs -> chips -> encodings -> k-fold figures.

    Args:
        pairs_txt: official ``pairs.txt`` (any number of folds).
        images_dir: folder with ``<Name>/<Name>_NNNN.jpg``.
        model: encoder (default :func:`utils.faces.encoder.load_encoder`).
        threshold: fixed threshold to score instead of fitting one per fold.
        flip: test-time flip averaging (default :data:`utils.faces.constants.FLIP_DEFAULT`).
        max_pairs_per_fold: use a subset; default all pairs, 100 per fold in fast mode.
        use_cache: use the on-disk chip cache.
        progress: progress bars (face detection, when chips are not cached yet, and encoding).
        batch_size: encoder batch size.
        refresh_cache: detect and align every image again (a cold run) and store the chips.
        cache_dir: folder of the chip cache (default :data:`utils.faces.chip_cache.CACHE_DIR`).

    Returns:
        :class:`EvaluationResult`; ``extra`` holds the timing breakdown (seconds), the number of
        images, images without a detected face, and the flip setting.

    Raises:
        FileNotFoundError: the pairs file, the images folder or an image is missing.
        utils.errors.UsageError: the pairs file is malformed.
    """
    flip = constants.FLIP_DEFAULT if flip is None else bool(flip)
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
        pair_rows.append(
            (unique_paths.setdefault(path_a, len(unique_paths)), unique_paths.setdefault(path_b, len(unique_paths)))
        )
    paths = list(unique_paths)

    started = time.perf_counter()
    chips, found = load_lfw_chips(
        paths, use_cache=use_cache, cache_dir=cache_dir, progress=progress, refresh_cache=refresh_cache
    )
    chips_seconds = time.perf_counter() - started

    started = time.perf_counter()
    model = model if model is not None else encoder.load_encoder()
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    encodings = _encode_with_progress(chips, model, flip, batch_size, progress)
    encode_seconds = time.perf_counter() - started

    started = time.perf_counter()
    rows = np.array(pair_rows)
    distances = np.linalg.norm(encodings[rows[:, 0]] - encodings[rows[:, 1]], axis=1)
    same = np.array([pair.same for pair in pairs])
    folds = np.array([pair.fold for pair in pairs])
    extra = {
        "images": len(paths),
        "no_face_images": int(np.count_nonzero(~found)),
        "flip": flip,
        "seconds_detect_align": round(chips_seconds, 2),
        "seconds_load_model": round(load_seconds, 2),
        "seconds_encode": round(encode_seconds, 2),
    }
    result = evaluate_distances(distances, same, folds, threshold=threshold, extra=extra)
    result.extra["seconds_folds"] = round(time.perf_counter() - started, 3)
    return result
