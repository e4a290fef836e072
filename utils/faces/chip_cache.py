"""Aligned face chips of image files, cached on disk so that a data set is detected only once.

MTCNN detection is the slow step of an evaluation (about 60 images per second on 2 CPU cores);
:func:`load_face_chips` runs it once per image and keeps the aligned chips under
``datasets/cache/`` (gitignored) in one ``.npz`` file per face policy (no pickle). An entry is
keyed by the image's path, size and modification time, so a changed image is detected again;
the file name holds a hash of everything that shapes a chip (:func:`chip_settings`: template,
chip size, detector version and settings), so changing the alignment starts a new cache instead
of serving stale chips. The file is rewritten atomically (:func:`utils.files.atomic_write`).

Example:
    >>> from utils.faces import chip_cache
    >>> sorted(chip_cache.chip_settings())
    ['detector', 'max_detect_side', 'min_confidence', 'retries', 'retry_min_confidence',
     'retry_min_face_fraction', 'size', 'small_side', 'template', 'version']
    >>> chips, found = chip_cache.load_face_chips(["a.jpg", "b.jpg"])   # doctest: +SKIP
    >>> chips.shape, found.tolist()                                      # doctest: +SKIP
    ((2, 150, 150, 3), [True, True])
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from utils import config, files, image_io
from utils.faces import align, constants

#: Where aligned chips are cached (gitignored).
CACHE_DIR = config.REPO_ROOT / "datasets" / "cache"

#: Bump when the chip-making code changes in a way that changes chips.
CHIP_CACHE_VERSION = 1


def chip_settings() -> dict:
    """Everything that changes a cached chip; hashed into the cache file name."""
    try:
        detector_version = metadata.version("mtcnn")  # without importing mtcnn (and TensorFlow)
    except metadata.PackageNotFoundError:
        detector_version = "?"
    return {
        "version": CHIP_CACHE_VERSION,
        "template": align.CHIP_TEMPLATE.round(4).tolist(),
        "size": constants.CHIP_SIZE,
        "detector": f"mtcnn-{detector_version}",
        "min_confidence": align.MIN_CONFIDENCE,
        "retries": [list(map(str, strategy)) for strategy in align.RETRY_STRATEGIES],
        "retry_min_confidence": align.RETRY_MIN_CONFIDENCE,
        "retry_min_face_fraction": align.RETRY_MIN_FACE_FRACTION,
        "small_side": align.SMALL_IMAGE_SIDE,
        "max_detect_side": align.MAX_DETECT_SIDE,
    }


def cache_path(policy: str, cache_dir=None) -> Path:
    """The cache file for ``policy`` in ``cache_dir`` (default :data:`CACHE_DIR`)."""
    settings = dict(chip_settings(), policy=policy)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir or CACHE_DIR) / f"face_chips_{policy}_{digest}.npz"


def _file_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _read_cache(path: Path) -> dict[str, tuple[np.ndarray | None, bool]]:
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, chips, found = data["keys"], data["chips"], data["found"]
        if len(keys) != len(chips) or len(keys) != len(found):
            raise ValueError("array lengths differ")
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        warnings.warn(f"ignoring unreadable chip cache {path}: {error}", stacklevel=3)
        return {}
    return {str(key): (chip, bool(ok)) for key, chip, ok in zip(keys, chips, found)}


def _blank_chip() -> np.ndarray:
    return np.zeros((constants.CHIP_SIZE, constants.CHIP_SIZE, 3), np.uint8)


def _write_cache(path: Path, entries: dict[str, tuple[np.ndarray | None, bool]]) -> None:
    keys = sorted(entries)
    size = constants.CHIP_SIZE
    chips = (
        np.stack([entries[key][0] if entries[key][1] else _blank_chip() for key in keys])
        if keys
        else np.zeros((0, size, size, 3), np.uint8)
    )
    found = np.array([entries[key][1] for key in keys], dtype=bool)
    with files.atomic_write(path, "wb") as handle:
        np.savez(handle, keys=np.array(keys, dtype=np.str_), chips=chips, found=found)


def load_face_chips(
    paths: Sequence,
    policy: str = "central",
    use_cache: bool = True,
    cache_dir=None,
    progress: bool = False,
    refresh_cache: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
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

    Raises:
        FileNotFoundError: an image that is not in the cache does not exist.
    """
    paths = [Path(path) for path in paths]
    cache_file = cache_path(policy, cache_dir)
    entries = _read_cache(cache_file) if use_cache and not refresh_cache else {}
    keys = [_file_key(path) if path.is_file() else str(path) for path in paths]
    todo = [index for index, key in enumerate(keys) if key not in entries]
    if todo:
        missing_files = [str(paths[index]) for index in todo if not paths[index].is_file()]
        if missing_files:
            raise FileNotFoundError(f"{len(missing_files)} image(s) not found, e.g. {missing_files[0]}")
        arrays = [image_io.load_image(paths[index]) for index in todo]
        detections = align.detect_faces_batch(arrays, progress=progress)
        chips = align.chips_from_detections(arrays, detections, policy=policy)
        for index, chip in zip(todo, chips):
            entries[keys[index]] = (chip[0], True) if chip is not None else (None, False)
        if use_cache:
            _write_cache(cache_file, entries)
    found = np.array([entries[key][1] for key in keys], dtype=bool)
    if not keys:
        return np.zeros((0, constants.CHIP_SIZE, constants.CHIP_SIZE, 3), np.uint8), found
    chips = np.stack([entries[key][0] if entries[key][1] else _blank_chip() for key in keys])
    return chips, found
