"""Style-transfer presets and the settings object: one preset plus the values you override.

A :class:`Preset` fixes the objective (which layers, how the costs are weighted, Adam's learning
rate). :class:`NSTSettings` is everything a run needs: a preset's values with any of them
overridden, plus the image and engine settings (size, initialisation, colour preservation,
weights file, compute dtype, coarse-to-fine schedule, seed). It is frozen and validated when
made, so a bad value (unknown name, negative, NaN or infinite number) fails at once with an
:class:`~utils.errors.NSTError` naming it, long before VGG19 is built.

Two engine settings make a run fast without changing its objective (measured in
``benchmarks/nst_speed.py``; see docs/RESULTS.md):

* ``compute_dtype="auto"`` (default) runs VGG19's convolutions in bfloat16 where the hardware has
  native bfloat16 arithmetic and in float32 elsewhere (:mod:`utils.config`);
* ``coarse_scale`` (default :data:`DEFAULT_COARSE_SCALE`) optimises first at that fraction of the
  size, for ``coarse_share`` of the steps, then upsamples and finishes at full size
  (coarse-to-fine, Gatys et al. 2017); ``coarse_scale=None`` runs at one scale only.

Presets (:data:`PRESETS`):

* ``"blocks123"`` (default) — style ``block1_conv1``, ``block2_conv1``, ``block3_conv1`` (1/3 each),
  content ``block3_conv2``, alpha 10, beta 0.4, total-variation weight 1: runs on the partial
  ImageNet file (blocks 1-3) as well as on the full one. ``block3_conv2`` was chosen over
  ``block3_conv4`` by comparing results side by side (tubingen + starry_night, 256 px, 60 L-BFGS
  steps): with the same weights both stylise as strongly, ``block3_conv2`` keeps the facades'
  windows and edges crisper, converges in fewer steps and each step is ~1.5x cheaper (two fewer
  256-channel convolutions forward and backward). With the course's beta 40 the content is
  visibly washed out at this depth; beta 0.4 keeps it.
* ``"course"`` — the course notebook: style ``block1_conv1`` .. ``block5_conv1`` at 0.2 each, content
  ``block5_conv4``, alpha 10, beta 40. Needs the full VGG19 file (asset ``vgg19_full``).
* ``"gatys"`` — Gatys et al. 2016: style ``conv1_1`` .. ``conv5_1`` at 0.2 each, content ``conv4_2``.
  Needs the full file.

Example:
    >>> settings = NSTSettings.from_preset("blocks123", beta=1.0, size=256)
    >>> settings.content_layer, settings.alpha, settings.beta, settings.size
    ('block3_conv2', 10.0, 1.0, 256)
    >>> settings.replace(preset="course").content_layer
    'block5_conv4'
    >>> NSTSettings(init="zeros")
    Traceback (most recent call last):
    ...
    utils.errors.NSTError: init must be one of ('content', 'noise', 'content+noise'); got 'zeros'
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence

from utils import config
from utils.errors import NSTError
from utils.nst import vgg

__all__ = [
    "Preset",
    "PRESETS",
    "DEFAULT_PRESET",
    "INITS",
    "OPTIMIZERS",
    "PRESET_FIELDS",
    "COMPUTE_DTYPES",
    "DEFAULT_COARSE_SCALE",
    "DEFAULT_COARSE_SHARE",
    "FLOAT32_MAX",
    "get_preset",
    "explicit_overrides",
    "NSTSettings",
]


@dataclasses.dataclass(frozen=True)
class Preset:
    """Layers and weights of a style-transfer objective.

    Attributes:
        name: preset name.
        style_layers: ``{layer: weight λ_l}`` for the style cost.
        content_layer: the layer of the content cost.
        alpha, beta: weights of the content and style costs in ``J = α J_content + β J_style``.
        tv_weight: weight of the total-variation loss (a sum over the [0, 1] image's pixels, so
            its effect grows with the image size; 1 suits 256-512 px with blocks123).
        learning_rate: Adam's learning rate.
        description: one line for humans.
    """

    name: str
    style_layers: dict
    content_layer: str
    alpha: float
    beta: float
    tv_weight: float
    learning_rate: float
    description: str

    @property
    def layers(self) -> tuple[str, ...]:
        """The style layers, then the content layer."""
        return tuple(self.style_layers) + (self.content_layer,)


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in [
        Preset(
            "blocks123",
            {"block1_conv1": 1 / 3, "block2_conv1": 1 / 3, "block3_conv1": 1 / 3},
            "block3_conv2",
            alpha=10.0,
            beta=0.4,
            tv_weight=1.0,
            learning_rate=0.02,
            description="style block1_conv1, block2_conv1, block3_conv1; content block3_conv2 "
            "(works with the partial blocks 1-3 ImageNet weights)",
        ),
        Preset(
            "course",
            {f"block{i}_conv1": 0.2 for i in range(1, 6)},
            "block5_conv4",
            alpha=10.0,
            beta=40.0,
            tv_weight=0.0,
            learning_rate=0.01,
            description="the course notebook: style block1_conv1..block5_conv1 at 0.2, content "
            "block5_conv4, alpha 10, beta 40, Adam lr 0.01 (needs the full VGG19 file)",
        ),
        Preset(
            "gatys",
            {f"block{i}_conv1": 0.2 for i in range(1, 6)},
            "block4_conv2",
            alpha=1.0,
            beta=1e3,
            tv_weight=0.0,
            learning_rate=0.02,
            description="Gatys et al. 2016: style conv1_1..conv5_1 at 0.2, content conv4_2, "
            "alpha/beta = 1e-3 (needs the full VGG19 file)",
        ),
    ]
}

#: The preset used when none is named (the only one that runs without the full VGG19 file).
DEFAULT_PRESET = "blocks123"

#: How the generated image starts: the content image, uniform noise, or the content plus noise.
INITS = ("content", "noise", "content+noise")

#: The optimisers :meth:`utils.nst.engine.StyleTransfer.run` knows.
OPTIMIZERS = ("adam", "lbfgs")

#: The settings a preset provides (None in :class:`NSTSettings` means "the preset's value").
PRESET_FIELDS = ("style_layers", "content_layer", "alpha", "beta", "tv_weight", "learning_rate")

#: What ``compute_dtype`` may say: ``"auto"`` (bfloat16 where native, see :mod:`utils.config`).
COMPUTE_DTYPES = config.COMPUTE_DTYPES

#: Coarse-to-fine: the first stage runs at this fraction of the output size (None: one scale).
DEFAULT_COARSE_SCALE: float | None = 0.5

#: Coarse-to-fine: the share of the steps spent at the coarse scale. Measured at 256 px (bf16
#: L-BFGS, the loss 80 single-scale evaluations reach): 30 coarse evaluations then needed 54
#: full-size ones (default objective) and 59 (time-to-quality objective), 60 coarse ones 53 and
#: 52, i.e. 61.5 / 66.5 against 68 / 67 full-size equivalents (a coarse one costs ~1/4); after a
#: fixed 300 steps the final loss was 1.2 % (share 0.1) and 2.2 % (0.2) above the single scale's.
DEFAULT_COARSE_SHARE = 0.1

#: The largest float32; the optimisation runs in float32, so a larger weight would be infinite there.
FLOAT32_MAX = 3.4028234663852886e38


def get_preset(name: str) -> Preset:
    """Return preset ``name``.

    Raises:
        NSTError: unknown name (the message lists the known presets).

    Example:
        >>> get_preset("course").content_layer
        'block5_conv4'
    """
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise NSTError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


@dataclasses.dataclass(frozen=True)
class NSTSettings:
    """Every setting of a style-transfer run: a preset, the values overriding it, and the rest.

    The six preset values (:data:`PRESET_FIELDS`) left at None are filled from ``preset`` when the
    object is made, so every attribute holds the value actually used.

    Attributes:
        preset: name in :data:`PRESETS` (default ``"blocks123"``).
        style_layers: ``{layer: weight}`` of the style cost (default: the preset's).
        content_layer: layer of the content cost (default: the preset's).
        alpha, beta: weights of the content and style costs (default: the preset's).
        tv_weight: weight of the total-variation loss (default: the preset's).
        learning_rate: Adam's learning rate (default: the preset's).
        init: ``"content"``, ``"noise"`` or ``"content+noise"`` (the course: content + uniform noise).
        noise_ratio: amplitude of the uniform noise for ``"content+noise"`` (course: 0.25 in [0, 1] units).
        preserve_colors: transfer in luminance only and recombine with the content's chrominance.
        style_weights: blending weights of the style images, one per image (normalised to sum 1;
            default: equal).
        style_scale: brush-stroke scale of the style images (1 = style resized to cover the output).
        size: longer side of the generated image in pixels (default: the content's own size).
        weights: ``"auto"``, ``"full"``, ``"partial"`` or an .h5 path (see
            :func:`utils.nst.vgg.choose_weights`).
        compute_dtype: dtype of the VGG convolutions: ``"auto"`` (default: bfloat16 where the
            hardware computes it natively, float32 elsewhere; see :mod:`utils.config`),
            ``"float32"`` or ``"bfloat16"``. Losses and the image are always float32.
        coarse_scale: coarse-to-fine: optimise first at this fraction of the size (0 < s < 1),
            then upsample and continue at full size; None (or 1) for a single scale. The engine
            skips the coarse stage when it would be smaller than
            :data:`utils.nst.engine.COARSE_MIN_SIDE` pixels or get no step.
        coarse_share: share of the steps run at the coarse scale (0 < share < 1).
        allow_random_weights: benchmarks only: Keras' seeded random weights for layers no file provides.
        seed: seed of the noise initialisation (and of random weights, if allowed).
    """

    preset: str = DEFAULT_PRESET
    style_layers: Mapping[str, float] | None = None
    content_layer: str | None = None
    alpha: float | None = None
    beta: float | None = None
    tv_weight: float | None = None
    learning_rate: float | None = None
    init: str = "content"
    noise_ratio: float = 0.25
    preserve_colors: bool = False
    style_weights: Sequence[float] | None = None
    style_scale: float = 1.0
    size: int | None = None
    weights: str | os.PathLike = "auto"
    compute_dtype: str = "auto"
    coarse_scale: float | None = DEFAULT_COARSE_SCALE
    coarse_share: float = DEFAULT_COARSE_SHARE
    allow_random_weights: bool = False
    seed: int = 0

    def __post_init__(self):
        chosen = get_preset(self.preset)
        values = {
            name: getattr(chosen, name) if getattr(self, name) is None else getattr(self, name)
            for name in PRESET_FIELDS
        }
        values["style_layers"] = dict(values["style_layers"])
        if not values["style_layers"]:
            raise NSTError("style_layers must name at least one layer")
        vgg.deepest_layer(list(values["style_layers"]) + [values["content_layer"]])  # known layer names
        for name in ("alpha", "beta", "tv_weight", "learning_rate"):
            values[name] = self._number(name, values[name])
        values["style_layers"] = {
            layer: self._number(f"style weight of {layer}", weight) for layer, weight in values["style_layers"].items()
        }
        if self.init not in INITS:
            raise NSTError(f"init must be one of {INITS}; got {self.init!r}")
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise NSTError(f"compute_dtype must be one of {COMPUTE_DTYPES}; got {self.compute_dtype!r}")
        style_scale = self._number("style scale", self.style_scale)
        if not (0.05 <= style_scale <= 20):
            raise NSTError(f"style scale must be between 0.05 and 20; got {self.style_scale}")
        if self.size is not None:
            size = self._number("size", self.size)
            if int(size) != size or int(size) <= 0:
                raise NSTError(f"size must be a positive number of pixels; got {self.size}")
        coarse_scale = None if self.coarse_scale is None else self._number("coarse_scale", self.coarse_scale)
        if coarse_scale is not None and not (0 < coarse_scale <= 1):
            raise NSTError(
                f"coarse_scale must be between 0 and 1 (a fraction of the size), or None for "
                f"a single scale; got {self.coarse_scale}"
            )
        coarse_share = self._number("coarse_share", self.coarse_share)
        if not (0 < coarse_share < 1):
            raise NSTError(f"coarse_share must be between 0 and 1 (a share of the steps); got {self.coarse_share}")
        values.update(
            noise_ratio=self._number("noise_ratio", self.noise_ratio),
            style_scale=style_scale,
            preserve_colors=bool(self.preserve_colors),
            allow_random_weights=bool(self.allow_random_weights),
            seed=int(self.seed),
            size=None if self.size is None else int(self.size),
            coarse_scale=None if coarse_scale in (None, 1.0) else coarse_scale,
            coarse_share=coarse_share,
        )
        if self.style_weights is not None:
            weights = tuple(self._number("style weight", weight, negative_ok=True) for weight in self.style_weights)
            if not weights or any(weight < 0 for weight in weights) or sum(weights) <= 0:
                raise NSTError(f"each style weight must be non-negative, and not all zero; got {list(weights)}")
            values["style_weights"] = weights
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @staticmethod
    def _number(name: str, value, negative_ok: bool = False) -> float:
        """``value`` as a float: a finite number within float32's range, non-negative unless allowed."""
        if isinstance(value, bool):
            raise NSTError(f"{name} must be a number; got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise NSTError(f"{name} must be a number; got {value!r}") from None
        if not math.isfinite(number):
            raise NSTError(f"{name} must be a finite number; got {value}")
        if abs(number) > FLOAT32_MAX:
            raise NSTError(f"{name} must be at most {FLOAT32_MAX:.4g} (the largest float32); got {value}")
        if number < 0 and not negative_ok:
            raise NSTError(f"{name} must be non-negative; got {value}")
        return number

    @classmethod
    def from_preset(cls, name: str = DEFAULT_PRESET, **overrides) -> NSTSettings:
        """The settings of preset ``name`` with ``overrides`` (any attribute).

        None keeps the default of a setting whose default is None (the preset's values, ``size``,
        ``style_weights``); for ``coarse_scale`` it means what it says: a single scale.

        Raises:
            NSTError: an unknown preset, an unknown setting name, or a bad value.

        Example:
            >>> NSTSettings.from_preset("course", tv_weight=None).tv_weight
            0.0
        """
        _check_names(overrides)
        return cls(preset=name, **explicit_overrides(overrides))

    def replace(self, **overrides) -> NSTSettings:
        """A copy with ``overrides`` applied; a new ``preset`` also brings that preset's values.

        Example:
            >>> NSTSettings().replace(beta=2.0).beta
            2.0
        """
        _check_names(overrides)
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        if "preset" in overrides:
            values.update(dict.fromkeys(PRESET_FIELDS))
        values.update(overrides)
        return NSTSettings(**values)

    @property
    def layers(self) -> tuple[str, ...]:
        """Every VGG19 layer the objective reads: the style layers, then the content layer."""
        return tuple(self.style_layers) + ((self.content_layer,) if self.content_layer not in self.style_layers else ())

    def to_dict(self) -> dict:
        """JSON-ready dict of every setting.

        Example:
            >>> NSTSettings().to_dict()["content_layer"]
            'block3_conv2'
        """
        record = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        record["style_layers"] = dict(self.style_layers)
        record["style_weights"] = list(self.style_weights) if self.style_weights is not None else None
        record["weights"] = str(self.weights)
        return record


def explicit_overrides(overrides: Mapping) -> dict:
    """``overrides`` without the Nones that stand for "the default" (see :meth:`NSTSettings.from_preset`)."""
    defaults = {field.name: field.default for field in dataclasses.fields(NSTSettings)}
    return {key: value for key, value in overrides.items() if value is not None or defaults.get(key) is not None}


def _check_names(overrides: Mapping) -> None:
    names = {field.name for field in dataclasses.fields(NSTSettings)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise NSTError(f"unknown style-transfer setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
