"""Small style-transfer results computed once and kept on disk: what notebook 04's live controls show.

The lecture's knobs (the ratio α/β, which layers carry the style, which layer carries the content,
how the generated image starts) are explored on small images (about 128 px): a grid of settings
is computed once with a progress bar, and moving a control then shows a stored result at once.

* :class:`KnobSetting` is one position of the controls; :meth:`KnobSetting.settings` turns it into
  the engine's :class:`~utils.nst.settings.NSTSettings` (the ``blocks123`` preset with ``beta =
  alpha / ratio``, the chosen style and content layers and start).
* :func:`knob_choices` lists what the installed VGG19 weights allow: with the partial file
  (blocks 1-3) only layers of blocks 1-3, and a sentence saying what the full file adds.
* :func:`explorer_grid` is the grid of settings computed ahead: the α/β row for both starts,
  plus each style choice and each content layer at the preset's ratio (18 runs with the partial
  file); ``small=True`` (fast mode) keeps three.
* :class:`ResultCache` stores one result per setting in ``<outputs>/nst/explorer/`` as a PNG and a
  JSON record, both written atomically (:mod:`utils.files`). The key is the SHA-256 of the
  engine's settings, the compute dtype this machine uses, the steps and optimiser, and the
  SHA-256 of the content and style images' pixels: another photograph, another size or another
  number of steps is another entry. A record whose PNG is missing, does not decode or does not
  have the SHA-256 the record names (a crash half-way, a file edited by hand) is deleted and
  computed again, never shown.

Importing this module does not import TensorFlow; computing a result does.

Example:
    >>> KnobSetting().settings(size=128).beta, KnobSetting(ratio=2500).settings(size=128).beta
    (0.4, 0.004)
    >>> ratio_label(25000.0)
    '25,000'
    >>> cache = ResultCache()                                              # doctest: +SKIP
    >>> result = cache.get_or_run(KnobSetting(), content, style, size=128, steps=60)  # doctest: +SKIP
    >>> result.image.shape, result.from_cache                              # doctest: +SKIP
    ((96, 128, 3), False)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from utils import assets, config, files, image_io
from utils.errors import ImageError, NSTError
from utils.nst import vgg
from utils.nst.engine import StyleTransfer
from utils.nst.settings import DEFAULT_PRESET, NSTSettings, get_preset

__all__ = [
    "RATIOS",
    "DEFAULT_RATIO",
    "STYLE_CHOICES",
    "FULL_STYLE_CHOICES",
    "DEFAULT_STYLE",
    "CONTENT_LAYERS",
    "FULL_CONTENT_LAYERS",
    "STARTS",
    "DEFAULT_START",
    "STARTS_ORDER",
    "OPTIMIZER",
    "CACHE_VERSION",
    "KnobSetting",
    "KnobChoices",
    "knob_choices",
    "explorer_grid",
    "ratio_label",
    "image_hash",
    "CachedResult",
    "ResultCache",
]

#: The α/β values the slider offers: the ``blocks123`` preset's 25 (10 / 0.4) times powers of ten.
RATIOS = (2.5, 25.0, 250.0, 2_500.0, 25_000.0, 250_000.0)

#: The preset's own ratio α/β.
DEFAULT_RATIO = 25.0

#: Style-layer weights the partial VGG19 file allows: the preset's three layers, then each alone.
STYLE_CHOICES = {
    "blocks 1-3 (preset)": {"block1_conv1": 1 / 3, "block2_conv1": 1 / 3, "block3_conv1": 1 / 3},
    "block1_conv1 only": {"block1_conv1": 1.0},
    "block2_conv1 only": {"block2_conv1": 1.0},
    "block3_conv1 only": {"block3_conv1": 1.0},
}

#: What the full VGG19 file adds: the assignment's five layers and the two deepest alone.
FULL_STYLE_CHOICES = {
    "blocks 1-5 (the assignment's)": {f"block{index}_conv1": 0.2 for index in range(1, 6)},
    "block4_conv1 only": {"block4_conv1": 1.0},
    "block5_conv1 only": {"block5_conv1": 1.0},
}

#: The style choice of the preset.
DEFAULT_STYLE = "blocks 1-3 (preset)"

#: Content layers the partial file allows (the preset's is ``block3_conv2``).
CONTENT_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv2", "block3_conv4")

#: Content layers the full file adds.
FULL_CONTENT_LAYERS = ("block4_conv2", "block5_conv2")

#: The two starts: the lecture's random image and the assignment's content plus noise.
STARTS = {"white noise": "noise", "content + noise": "content+noise"}

#: The assignment's start.
DEFAULT_START = "content + noise"

#: The starts in the order the grid computes them (the assignment's first).
STARTS_ORDER = (DEFAULT_START, "white noise")

#: The optimiser of the explorer's runs: L-BFGS gets close to the objective's minimum in few
#: evaluations, so a picture shows what the setting asks for rather than how far Adam got.
OPTIMIZER = "lbfgs"

#: Changes when what a stored result means changes (the key includes it).
CACHE_VERSION = 1


def ratio_label(ratio: float) -> str:
    """α/β as the controls print it: ``2.5``, ``25``, ``25,000``."""
    return f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:g}"


@dataclasses.dataclass(frozen=True)
class KnobSetting:
    """One position of the explorer's controls.

    Attributes:
        ratio: α/β (α stays the preset's 10; β = α / ratio).
        style: a name in :data:`STYLE_CHOICES` or :data:`FULL_STYLE_CHOICES`.
        content_layer: the content cost's layer.
        start: a name in :data:`STARTS`.
    """

    ratio: float = DEFAULT_RATIO
    style: str = DEFAULT_STYLE
    content_layer: str = "block3_conv2"
    start: str = DEFAULT_START

    def settings(self, size: int, seed: int = 0) -> NSTSettings:
        """The engine's settings for this position at ``size`` pixels (longer side).

        Raises:
            NSTError: an unknown style choice or start, a ratio that is not positive.
        """
        style_layers = {**STYLE_CHOICES, **FULL_STYLE_CHOICES}.get(self.style)
        if style_layers is None:
            raise NSTError(
                f"unknown style choice {self.style!r}; choose one of "
                f"{', '.join({**STYLE_CHOICES, **FULL_STYLE_CHOICES})}"
            )
        if self.start not in STARTS:
            raise NSTError(f"unknown start {self.start!r}; choose one of {', '.join(STARTS)}")
        if not (isinstance(self.ratio, (int, float)) and math.isfinite(self.ratio) and self.ratio > 0):
            raise NSTError(f"alpha/beta must be a positive number; got {self.ratio!r}")
        alpha = get_preset(DEFAULT_PRESET).alpha
        return NSTSettings.from_preset(
            DEFAULT_PRESET,
            style_layers=style_layers,
            content_layer=self.content_layer,
            alpha=alpha,
            beta=alpha / self.ratio,
            init=STARTS[self.start],
            size=size,
            seed=seed,
        )

    def label(self) -> str:
        """One line: ``α/β 25 · style blocks 1-3 (preset) · content block3_conv2 · content + noise``."""
        return (
            f"α/β {ratio_label(self.ratio)} · style {self.style} · content {self.content_layer} · start: {self.start}"
        )


@dataclasses.dataclass(frozen=True)
class KnobChoices:
    """What the installed weights allow: the style choices and content layers, and why not more.

    Attributes:
        styles: names in :data:`STYLE_CHOICES` (plus :data:`FULL_STYLE_CHOICES` with the full file).
        content_layers: content layers, shallow to deep.
        weights_kind: ``"full"`` or ``"partial"``.
        note: one sentence for the learner: which layers exist and how to get the others.
    """

    styles: tuple
    content_layers: tuple
    weights_kind: str
    note: str


def knob_choices(weights: str = "auto") -> KnobChoices:
    """The explorer's choices for the VGG19 weights installed (see :func:`utils.nst.vgg.choose_weights`).

    Raises:
        MissingWeightsError: neither VGG19 file is installed.

    Example:
        >>> choices = knob_choices()                                         # doctest: +SKIP
        >>> choices.content_layers                                           # doctest: +SKIP
        ('block1_conv2', 'block2_conv2', 'block3_conv2', 'block3_conv4')
    """
    deepest = vgg.choose_weights(["block3_conv4"], weights)
    held = set(vgg.file_layers(deepest.path)) if deepest.path is not None else set()
    full = {"block5_conv1", "block4_conv2", "block5_conv2"} <= held
    if full:
        return KnobChoices(
            tuple(STYLE_CHOICES) + tuple(FULL_STYLE_CHOICES),
            CONTENT_LAYERS + FULL_CONTENT_LAYERS,
            "full",
            "The full VGG19 file is installed: blocks 1-5 can carry style and content.",
        )
    how = assets.get(vgg.FULL_ASSET).how_to_get
    return KnobChoices(
        tuple(STYLE_CHOICES),
        CONTENT_LAYERS,
        "partial",
        f"Only the ImageNet weights of blocks 1-3 are installed, so the style and content layers "
        f"stop at block3; block4_conv1, block5_conv1 (the assignment's deepest style layers) and "
        f"block4_conv2, block5_conv2 need the full VGG19 file ({vgg.FULL_ASSET}): {how}.",
    )


def explorer_grid(choices: KnobChoices, small: bool = False) -> list[KnobSetting]:
    """The settings computed ahead, the preset's own position first.

    The full grid (``small=False``) is the α/β row with both starts (the start matters most
    there: from white noise the photograph comes back only when the content weighs enough), then
    each other style choice and each other content layer at the preset's ratio from the
    assignment's start: 18 runs with the partial file, 23 with the full one (about a minute on 2
    cores at 128 px, see ``benchmarks/nst_widgets_speed.py``). Moving one control away from the
    preset's position shows a stored result; a combination of changes is computed on request
    ("run this setting"). ``small=True`` (fast mode) keeps the preset's position, α/β 25,000 and
    the white-noise start: three runs.

    Example:
        >>> choices = KnobChoices(tuple(STYLE_CHOICES), CONTENT_LAYERS, "partial", "")
        >>> len(explorer_grid(choices)), len(explorer_grid(choices, small=True))
        (18, 3)
    """
    default = KnobSetting()
    if small:
        return [
            default,
            dataclasses.replace(default, ratio=25_000.0),
            dataclasses.replace(default, start="white noise"),
        ]
    ratios = (DEFAULT_RATIO,) + tuple(ratio for ratio in RATIOS if ratio != DEFAULT_RATIO)
    grid = [dataclasses.replace(default, start=start, ratio=ratio) for start in STARTS_ORDER for ratio in ratios]
    grid += [dataclasses.replace(default, style=style) for style in choices.styles if style != DEFAULT_STYLE]
    grid += [
        dataclasses.replace(default, content_layer=layer)
        for layer in choices.content_layers
        if layer != default.content_layer
    ]
    return grid


def image_hash(image: np.ndarray) -> str:
    """SHA-256 of an RGB uint8 image's shape and pixels (what the cache key names).

    Example:
        >>> image_hash(np.zeros((2, 3, 3), np.uint8))[:12]
        '912c1186b206'
    """
    array = np.ascontiguousarray(image_io.load_image(image))
    digest = hashlib.sha256(f"{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


@dataclasses.dataclass
class CachedResult:
    """One stored result.

    Attributes:
        image: the generated image, uint8 (H, W, 3).
        record: what was stored beside it: ``key``, ``setting`` (the knobs), ``settings`` (the
            engine's), ``initial_losses``, ``final_losses``, ``steps``, ``seconds``,
            ``compute_dtype``, the images' hashes and the PNG's SHA-256.
        from_cache: True when read from disk or memory, False when computed now.
    """

    image: np.ndarray
    record: dict
    from_cache: bool = True


class ResultCache:
    """Results of the explorer's runs, on disk under ``folder`` and in memory.

    Args:
        folder: where the PNG and JSON files go (default ``<outputs>/nst/explorer``,
            :func:`utils.config.output_dir`).

    Example:
        >>> cache = ResultCache()                                              # doctest: +SKIP
        >>> cache.build(explorer_grid(knob_choices()), content, style, size=128, steps=60)  # doctest: +SKIP
    """

    def __init__(self, folder=None):
        self.folder = Path(folder) if folder is not None else config.output_dir("nst") / "explorer"
        self._memory: dict = {}

    # ---- keys ----------------------------------------------------------------------------

    @staticmethod
    def key(settings: NSTSettings, content_hash: str, style_hash: str, steps: int, optimizer: str = OPTIMIZER) -> str:
        """The entry's name: SHA-256 (24 hex digits) of everything that decides the picture.

        The settings' ``compute_dtype`` is resolved for this machine first (``"auto"`` is
        bfloat16 on one machine and float32 on another, and their pictures differ slightly).
        """
        record = {
            "version": CACHE_VERSION,
            "settings": settings.to_dict(),
            "compute_dtype": config.choose_compute_dtype(settings.compute_dtype).dtype,
            "steps": int(steps),
            "optimizer": optimizer,
            "content": content_hash,
            "style": style_hash,
            "costs": "utils.losses",
        }
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:24]

    def paths(self, key: str) -> tuple[Path, Path]:
        """The PNG and the JSON record of entry ``key``."""
        return self.folder / f"{key}.png", self.folder / f"{key}.json"

    # ---- reading and writing -------------------------------------------------------------

    def load(self, key: str) -> CachedResult | None:
        """Entry ``key`` when it is stored and sound; None otherwise.

        A record that does not parse, names another key, or whose PNG is missing, has another
        SHA-256 or does not decode is deleted (both files), so that the entry is computed again.
        """
        if key in self._memory:
            return self._memory[key]
        image_path, record_path = self.paths(key)
        if not record_path.exists():
            return None
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or record.get("key") != key:
                raise ValueError("the record names another entry")
            data = image_path.read_bytes()
            if hashlib.sha256(data).hexdigest() != record.get("png_sha256"):
                raise ValueError("the PNG is not the one the record names")
            image = image_io.load_image_bytes(data, str(image_path))
            if list(image.shape) != list(record.get("shape", [])):
                raise ValueError("the PNG has another size")
        except (OSError, ValueError, ImageError):  # json.JSONDecodeError is a ValueError
            self.discard(key)
            return None
        result = CachedResult(image, record, from_cache=True)
        self._memory[key] = result
        return result

    def discard(self, key: str) -> None:
        """Delete entry ``key`` (both files, and the copy in memory)."""
        self._memory.pop(key, None)
        for path in self.paths(key):
            path.unlink(missing_ok=True)

    def store(self, key: str, image: np.ndarray, record: dict) -> CachedResult:
        """Write the PNG, then the JSON record naming the PNG's SHA-256 (each atomically)."""
        image_path, record_path = self.paths(key)
        image_io.save_image(image_path, image)
        record = {
            **record,
            "key": key,
            "shape": list(image.shape),
            "png_sha256": hashlib.sha256(image_path.read_bytes()).hexdigest(),
        }
        files.write_text(record_path, json.dumps(record, indent=1) + "\n")
        result = CachedResult(np.asarray(image), record, from_cache=True)
        self._memory[key] = result
        return result

    # ---- computing -----------------------------------------------------------------------

    def lookup(
        self, setting: KnobSetting, content: np.ndarray, style: np.ndarray, size: int, steps: int
    ) -> CachedResult | None:
        """The stored result of ``setting`` on these images, or None (nothing is computed)."""
        return self.load(self.key(setting.settings(size), image_hash(content), image_hash(style), steps))

    def get_or_run(
        self,
        setting: KnobSetting,
        content: np.ndarray,
        style: np.ndarray,
        size: int,
        steps: int,
        callback: Callable | None = None,
    ) -> CachedResult | None:
        """The stored result of ``setting``, or run it now (L-BFGS, ``steps`` evaluations) and store it.

        Args:
            setting: the controls' position.
            content, style: RGB uint8 images (or anything :func:`utils.image_io.load_image` reads).
            size: longer side of the result in pixels.
            steps: L-BFGS evaluations.
            callback: passed to :meth:`utils.nst.engine.StyleTransfer.run` (progress, Stop).

        Returns:
            A :class:`CachedResult` (``from_cache`` False when computed now), or None when the
            callback stopped the run: a stopped run is not the setting's result and is not stored.
        """
        content, style = image_io.load_image(content), image_io.load_image(style)
        settings = setting.settings(size)
        content_hash, style_hash = image_hash(content), image_hash(style)
        key = self.key(settings, content_hash, style_hash, steps)
        found = self.load(key)
        if found is not None:
            return found
        started = time.perf_counter()
        engine = StyleTransfer(content, [style], settings)
        result = engine.run(steps, optimizer=OPTIMIZER, progress=False, callback=callback)
        if result.stopped:
            return None
        record = {
            "setting": dataclasses.asdict(setting),
            "settings": settings.to_dict(),
            "compute_dtype": result.precision.get("dtype"),
            "steps": result.steps,
            "optimizer": OPTIMIZER,
            "initial_losses": result.initial_losses,
            "final_losses": result.final_losses,
            "seconds": time.perf_counter() - started,
            "content": content_hash,
            "style": style_hash,
        }
        stored = self.store(key, result.image, record)
        return CachedResult(stored.image, stored.record, from_cache=False)

    def missing(self, grid: Sequence[KnobSetting], content, style, size: int, steps: int) -> list[KnobSetting]:
        """The settings of ``grid`` not stored yet for these images."""
        content_hash, style_hash = image_hash(content), image_hash(style)
        return [
            setting
            for setting in grid
            if self.load(self.key(setting.settings(size), content_hash, style_hash, steps)) is None
        ]

    def build(
        self,
        grid: Sequence[KnobSetting],
        content,
        style,
        size: int,
        steps: int,
        progress: Callable | None = None,
        should_stop: Callable[[], bool] | None = None,
        show_bar: bool = True,
    ) -> dict:
        """Compute every setting of ``grid`` not stored yet, with a progress bar.

        Args:
            grid: the settings (e.g. :func:`explorer_grid`).
            content, style: the images.
            size, steps: as in :meth:`get_or_run`.
            progress: ``f(done, total, text)`` after each setting (a widget's progress bar).
            should_stop: checked after every L-BFGS evaluation; True ends the build (what was
                finished stays stored).
            show_bar: show a tqdm bar too.

        Returns:
            ``{"computed": n, "stored": m, "total": len(grid), "seconds": s, "stopped": bool}``.
        """
        content, style = image_io.load_image(content), image_io.load_image(style)
        todo = self.missing(grid, content, style, size, steps)
        started, computed, stopped = time.perf_counter(), 0, False
        callback = None if should_stop is None else (lambda entry, preview: should_stop())
        bar = tqdm(todo, desc="NST explorer results", disable=not show_bar or not todo, leave=False)
        for index, setting in enumerate(bar):
            if should_stop is not None and should_stop():
                stopped = True
                break
            if progress is not None:
                progress(index, len(todo), setting.label())
            outcome = self.get_or_run(setting, content, style, size, steps, callback=callback)
            if outcome is None:
                stopped = True
                break
            computed += 1
        bar.close()
        if progress is not None:
            progress(computed, len(todo), "stopped" if stopped else "done")
        return {
            "computed": computed,
            "stored": len(grid) - len(todo) + computed,
            "total": len(grid),
            "seconds": time.perf_counter() - started,
            "stopped": stopped,
        }
