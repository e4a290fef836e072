"""Neural style transfer (Gatys et al. 2015/2016) on ImageNet VGG19 features.

:class:`StyleTransfer` optimises a generated image so that its VGG19 activations match a content
image at one layer (content cost) and the Gram matrices of one or more style images at several
layers (style cost). The costs default to :mod:`utils.losses` (the course's definitions); a
notebook can plug a learner's own functions in through ``content_cost_fn``, ``style_cost_fn`` and
``total_cost_fn``. The pieces are exposed: :attr:`StyleTransfer.extractor` (VGG19 truncated at the
deepest layer needed, :mod:`utils.vgg`), the targets computed once (:attr:`content_target`,
:attr:`style_targets`), :meth:`StyleTransfer.compute_losses`, the compiled Adam
:meth:`StyleTransfer.train_step` and :meth:`StyleTransfer.value_and_gradient` (for L-BFGS).

Presets (``PRESETS``):

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

Images enter as RGB in [0, 1]; VGG's ImageNet preprocessing is inside the extractor. The generated
image is kept in [0, 1] (clipped after each Adam step; box bounds for L-BFGS).

Example:
    >>> from utils import assets, nst
    >>> folder = assets.resolve("nst_images")                          # doctest: +SKIP
    >>> engine = nst.StyleTransfer(folder / "content" / "tubingen.jpg",
    ...                            [folder / "style" / "starry_night.jpg"], size=256)  # doctest: +SKIP
    >>> result = engine.run(steps=200)                                  # doctest: +SKIP
    >>> result.save("out.png"); result.final_losses["total"]            # doctest: +SKIP

Command line::

    python -m utils.nst --content C.jpg --style S.jpg [S2.jpg ...] --output OUT.png --size 400 \
        --steps 300 [--preset blocks123] [--style-weights 0.7 0.3] [--preserve-colors] \
        [--tv-weight W] [--optimizer adam|lbfgs] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from utils import image_io, vgg


class NSTError(ValueError):
    """Bad style-transfer input (sizes, layers, presets, settings); raised before any work starts."""


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
        return tuple(self.style_layers) + (self.content_layer,)


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in [
        Preset("blocks123", {"block1_conv1": 1 / 3, "block2_conv1": 1 / 3, "block3_conv1": 1 / 3},
               "block3_conv2", alpha=10.0, beta=0.4, tv_weight=1.0, learning_rate=0.02,
               description="style block1_conv1, block2_conv1, block3_conv1; content block3_conv2 "
                           "(works with the partial blocks 1-3 ImageNet weights)"),
        Preset("course", {f"block{i}_conv1": 0.2 for i in range(1, 6)}, "block5_conv4",
               alpha=10.0, beta=40.0, tv_weight=0.0, learning_rate=0.01,
               description="the course notebook: style block1_conv1..block5_conv1 at 0.2, content "
                           "block5_conv4, alpha 10, beta 40, Adam lr 0.01 (needs the full VGG19 file)"),
        Preset("gatys", {f"block{i}_conv1": 0.2 for i in range(1, 6)}, "block4_conv2",
               alpha=1.0, beta=1e3, tv_weight=0.0, learning_rate=0.02,
               description="Gatys et al. 2016: style conv1_1..conv5_1 at 0.2, content conv4_2, "
                           "alpha/beta = 1e-3 (needs the full VGG19 file)"),
    ]
}

#: The preset used when none is named (the only one that runs without the full VGG19 file).
DEFAULT_PRESET = "blocks123"

INITS = ("content", "noise", "content+noise")
OPTIMIZERS = ("adam", "lbfgs")

#: Safety margin: refuse sizes whose estimated activation memory exceeds this share of free RAM.
MEMORY_FRACTION = 0.6


def get_preset(name: str) -> Preset:
    """Return preset ``name`` (NSTError listing the known presets otherwise)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise NSTError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


# --------------------------------------------------------------------------------------------
# Colour helpers
# --------------------------------------------------------------------------------------------

#: RGB -> YIQ (NTSC) matrix; rows give Y, I, Q.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                        [0.595716, -0.274453, -0.321263],
                        [0.211456, -0.522591, 0.311135]], dtype=np.float64)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    """Convert float RGB (..., 3) in [0, 1] to YIQ (..., 3)."""
    return np.asarray(image, np.float64) @ _RGB_TO_YIQ.T


def yiq_to_rgb(image: np.ndarray) -> np.ndarray:
    """Convert YIQ (..., 3) back to float RGB (not clipped)."""
    return np.asarray(image, np.float64) @ _YIQ_TO_RGB.T


def luminance_image(image: np.ndarray, match_to: np.ndarray | None = None) -> np.ndarray:
    """Gray float image (H, W, 3) in [0, 1] holding the luminance Y of uint8/float RGB ``image``.

    With ``match_to`` (another RGB image), the luminance is shifted and scaled to that image's
    luminance mean and standard deviation (Gatys et al. 2016, colour preservation), so the style's
    brightness statistics do not fight the content's.
    """
    rgb = image.astype(np.float64) / 255.0 if image.dtype == np.uint8 else np.asarray(image, np.float64)
    y = rgb_to_yiq(rgb)[..., 0]
    if match_to is not None:
        ref = match_to.astype(np.float64) / 255.0 if match_to.dtype == np.uint8 else match_to
        y_ref = rgb_to_yiq(ref)[..., 0]
        y = (y - y.mean()) / (y.std() + 1e-8) * y_ref.std() + y_ref.mean()
    return np.repeat(np.clip(y, 0.0, 1.0)[..., None], 3, axis=-1)


def combine_luminance(luminance_rgb: np.ndarray, colour_source: np.ndarray) -> np.ndarray:
    """uint8 RGB with the luminance of ``luminance_rgb`` and the chrominance (I, Q) of ``colour_source``."""
    lum = luminance_rgb.astype(np.float64) / 255.0 if luminance_rgb.dtype == np.uint8 else luminance_rgb
    src = colour_source.astype(np.float64) / 255.0 if colour_source.dtype == np.uint8 else colour_source
    yiq = rgb_to_yiq(src)
    yiq[..., 0] = rgb_to_yiq(lum)[..., 0]
    return np.round(np.clip(yiq_to_rgb(yiq), 0.0, 1.0) * 255.0).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Image preparation
# --------------------------------------------------------------------------------------------

def prepare_style_image(style: np.ndarray, height: int, width: int, scale: float = 1.0) -> np.ndarray:
    """Fit a style image to (height, width) with brush strokes ``scale`` times their natural size.

    The style is first resized to just cover (height, width) (aspect ratio kept): that is scale 1.
    It is then resized by ``scale`` and centre-cropped (scale >= 1) or mirror-tiled and cropped
    (scale < 1) to exactly (height, width), because the course's style cost compares Gram matrices
    of equally shaped activations.
    """
    if not (0.05 <= scale <= 20):
        raise NSTError(f"style scale must be between 0.05 and 20; got {scale}")
    cover = max(height / style.shape[0], width / style.shape[1]) * scale
    new_h = max(1, math.ceil(style.shape[0] * cover))
    new_w = max(1, math.ceil(style.shape[1] * cover))
    resized = image_io.resize(style, (new_h, new_w))
    if new_h < height or new_w < width:
        reps_h, reps_w = math.ceil(height / new_h), math.ceil(width / new_w)
        rows = [np.concatenate([resized if (i + j) % 2 == 0 else resized[:, ::-1] for j in range(reps_w)], 1)
                for i in range(reps_h)]
        rows = [row if i % 2 == 0 else row[::-1] for i, row in enumerate(rows)]
        resized = np.concatenate(rows, 0)
    return image_io.center_crop(resized, (height, width))


def _load(source, what: str) -> np.ndarray:
    try:
        return image_io.load_image(source)
    except image_io.ImageError as error:
        raise image_io.ImageError(f"{what}: {error}") from None


def tf_value(variable):
    """The current value of a tf.Variable as a tensor (for functions with an input signature)."""
    return variable.read_value() if hasattr(variable, "read_value") else variable


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class NSTResult:
    """Outcome of :meth:`StyleTransfer.run`.

    Attributes:
        image: the stylised image, uint8 (H, W, 3) (colour-recombined when preserving colours).
        initial_losses, final_losses: ``{"content", "style", "tv", "total"}`` at the first and last image.
        seconds_per_step: wall time per optimisation step (one value+gradient evaluation),
            excluding compilation (the first step).
        steps: number of steps (value+gradient evaluations) run.
        optimizer: ``"adam"`` or ``"lbfgs"``.
        provenance: weights file and kind, layers, random layers, preprocessing, dtype.
        settings: every setting of the run.
        history: one dict of losses per step (``step`` is 1-based), plus ``seconds`` since start.
        snapshots: ``[(step, uint8 image)]`` every ``snapshot_every`` steps (and the start).
    """

    image: np.ndarray
    initial_losses: dict
    final_losses: dict
    seconds_per_step: float
    steps: int
    optimizer: str
    provenance: dict
    settings: dict
    history: list
    snapshots: list
    total_seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready summary (no pixels)."""
        return {
            "initial_losses": self.initial_losses,
            "final_losses": self.final_losses,
            "seconds_per_step": self.seconds_per_step,
            "total_seconds": self.total_seconds,
            "steps": self.steps,
            "optimizer": self.optimizer,
            "weights_file": self.provenance.get("weights_file"),
            "weights_kind": self.provenance.get("weights_kind"),
            "layers": {"style": self.settings.get("style_layers"), "content": self.settings.get("content_layer")},
            "provenance": self.provenance,
            "settings": self.settings,
            "history": self.history,
        }

    def save(self, path) -> Path:
        """Write the image (PNG/JPEG by extension) and return the path."""
        return image_io.save_image(path, self.image)

    def save_json(self, path) -> Path:
        """Write :meth:`to_dict` as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    def plot_losses(self, path=None):
        """Plot the loss curves (log scale) against steps; return the matplotlib Figure."""
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(6, 4))
        steps = [entry["step"] for entry in self.history]
        for key in ("total", "content", "style", "tv"):
            values = [entry[key] for entry in self.history]
            if any(values):
                axis.plot(steps, values, label=key)
        axis.set_yscale("log")
        axis.set_xlabel("step (value+gradient evaluations)")
        axis.set_ylabel("loss")
        axis.set_title(f"NST losses ({self.optimizer}, {self.provenance.get('weights_kind')} weights)")
        axis.legend()
        figure.tight_layout()
        if path is not None:
            figure.savefig(path, dpi=100)
        return figure

    def grid(self, path=None, ncols: int | None = None):
        """Show the snapshots (and the final image) in a grid; return the Figure."""
        images = [image for _, image in self.snapshots]
        titles = [f"step {step}" for step, _ in self.snapshots]
        if not self.snapshots or self.snapshots[-1][0] != self.steps:
            images.append(self.image)
            titles.append(f"final (step {self.steps})")
        return image_io.show_grid(images, titles=titles, ncols=ncols or min(4, len(images)), path=path)


# --------------------------------------------------------------------------------------------
# Engine
# --------------------------------------------------------------------------------------------

class StyleTransfer:
    """Gatys-style neural style transfer on VGG19 with pluggable cost functions.

    Everything is validated (images readable, layers known and with weights, image large enough
    for the deepest layer, activation memory within free RAM) before VGG19 is built.

    Args:
        content: content image (path or array).
        styles: one style image or a list of them (paths or arrays).
        preset: name in :data:`PRESETS` (default ``"blocks123"``).
        style_weights: blending weights of the style images (normalised to sum 1; default equal).
        size: longer side of the generated image in pixels (default: the content's own size).
        style_scale: brush-stroke scale of the style images (1 = style resized to cover the output).
        style_layers: ``{layer: weight}`` overriding the preset's style layers.
        content_layer: overrides the preset's content layer.
        alpha, beta, tv_weight, learning_rate: override the preset's values.
        init: ``"content"``, ``"noise"`` or ``"content+noise"`` (the course: content + uniform noise).
        noise_ratio: amplitude of the uniform noise for ``"content+noise"`` (course: 0.25 in [0, 1]
            units) or the mixing ratio toward noise.
        preserve_colors: transfer in luminance only and recombine with the content's chrominance.
        weights: ``"auto"``, ``"full"``, ``"partial"`` or an .h5 path (see :func:`utils.vgg.choose_weights`).
        compute_dtype: ``"float32"`` (default) or ``"bfloat16"`` for the VGG convolutions.
        content_cost_fn: ``f(a_C, a_G) -> scalar`` (default ``utils.losses.content_cost``).
        style_cost_fn: ``f(style_outputs, generated_outputs, layer_weights) -> scalar`` (default
            ``utils.losses.style_cost``); called once per style image.
        total_cost_fn: ``f(J_content, J_style, alpha, beta) -> scalar`` (default
            ``utils.losses.total_cost``). The total-variation term is added to its result.
        allow_random_weights: benchmarks only: random weights for layers no file provides.
        seed: seed of the noise initialisation.
    """

    def __init__(self, content, styles, *, preset: str = DEFAULT_PRESET,
                 style_weights: Sequence[float] | None = None, size: int | None = None,
                 style_scale: float = 1.0, style_layers: dict | None = None,
                 content_layer: str | None = None, alpha: float | None = None,
                 beta: float | None = None, tv_weight: float | None = None,
                 learning_rate: float | None = None, init: str = "content",
                 noise_ratio: float = 0.25, preserve_colors: bool = False, weights="auto",
                 compute_dtype: str = "float32", content_cost_fn: Callable | None = None,
                 style_cost_fn: Callable | None = None, total_cost_fn: Callable | None = None,
                 allow_random_weights: bool = False, seed: int = 0):
        from utils import losses

        # ---- settings (no heavy work) -------------------------------------------------------
        chosen = get_preset(preset)
        self.preset = chosen
        self.style_layer_weights = dict(style_layers if style_layers is not None else chosen.style_layers)
        self.content_layer = content_layer or chosen.content_layer
        if not self.style_layer_weights:
            raise NSTError("style_layers must name at least one layer")
        vgg._check_layers(list(self.style_layer_weights) + [self.content_layer])
        self.alpha = float(chosen.alpha if alpha is None else alpha)
        self.beta = float(chosen.beta if beta is None else beta)
        self.tv_weight = float(chosen.tv_weight if tv_weight is None else tv_weight)
        self.learning_rate = float(chosen.learning_rate if learning_rate is None else learning_rate)
        if init not in INITS:
            raise NSTError(f"init must be one of {INITS}; got {init!r}")
        if compute_dtype not in ("float32", "bfloat16"):
            raise NSTError(f"compute_dtype must be 'float32' or 'bfloat16'; got {compute_dtype!r}")
        if min(self.alpha, self.beta, self.tv_weight, self.learning_rate) < 0:
            raise NSTError("alpha, beta, tv_weight and learning_rate must be non-negative")
        self.layers = tuple(self.style_layer_weights) + (
            (self.content_layer,) if self.content_layer not in self.style_layer_weights else ())
        self.weights_choice = vgg.choose_weights(self.layers, weights, allow_random_weights)

        # ---- images --------------------------------------------------------------------------
        style_sources = [styles] if isinstance(styles, (str, Path, np.ndarray)) else list(styles)
        if not style_sources:
            raise NSTError("give at least one style image")
        if style_weights is None:
            style_weights = [1.0] * len(style_sources)
        style_weights = [float(w) for w in style_weights]
        if len(style_weights) != len(style_sources) or any(w < 0 for w in style_weights) or sum(style_weights) <= 0:
            raise NSTError(f"need one non-negative style weight per style image ({len(style_sources)}), "
                           f"not all zero; got {style_weights}")
        self.style_blend = [w / sum(style_weights) for w in style_weights]
        content_image = _load(content, "content image")
        style_images = [_load(source, f"style image {i + 1}") for i, source in enumerate(style_sources)]
        height, width = content_image.shape[:2]
        if size is not None:
            if int(size) <= 0:
                raise NSTError(f"size must be a positive number of pixels; got {size}")
            scale = int(size) / max(height, width)
            height, width = max(1, round(height * scale)), max(1, round(width * scale))
        minimum = vgg.minimum_input_size(self.layers)
        if min(height, width) < minimum:
            raise NSTError(f"the content image is {height}x{width} px after resizing, too small for layer "
                           f"{vgg.deepest_layer(self.layers)}: every side must be at least {minimum} px")
        needed = vgg.estimate_activation_bytes(self.layers, height, width,
                                               bytes_per_value=4 if compute_dtype == "float32" else 2)
        available = vgg.available_memory_bytes()
        if available is not None and needed > MEMORY_FRACTION * available:
            raise NSTError(f"a {height}x{width} image through VGG19 up to {vgg.deepest_layer(self.layers)} needs "
                           f"about {needed / 2**30:.1f} GiB of activation memory but only "
                           f"{available / 2**30:.1f} GiB is free: use a smaller --size")
        if (height, width) != content_image.shape[:2]:
            content_image = image_io.resize(content_image, (height, width))
        self.style_scale = float(style_scale)
        style_images = [prepare_style_image(image, height, width, self.style_scale) for image in style_images]
        self.preserve_colors = bool(preserve_colors)
        self.content_rgb = content_image
        self.style_rgbs = style_images
        if self.preserve_colors:
            content_float = luminance_image(content_image)
            style_floats = [luminance_image(image, match_to=content_image) for image in style_images]
        else:
            content_float = content_image.astype(np.float32) / 255.0
            style_floats = [image.astype(np.float32) / 255.0 for image in style_images]
        self.height, self.width = height, width
        self.init, self.noise_ratio, self.seed = init, float(noise_ratio), int(seed)
        self.compute_dtype = compute_dtype
        self.content_cost_fn = content_cost_fn or losses.content_cost
        self.style_cost_fn = style_cost_fn or losses.style_cost
        self.total_cost_fn = total_cost_fn or losses.total_cost
        self._tv_fn = losses.total_variation_loss

        # ---- heavy work: VGG19 and the targets (computed once) ------------------------------
        import tensorflow as tf

        self.extractor = vgg.build_extractor(self.layers, weights=weights,
                                             allow_random_weights=allow_random_weights,
                                             compute_dtype=compute_dtype)
        self.content_input = tf.constant(content_float[None], tf.float32)
        self.content_target = tf.constant(self.extractor(self.content_input)[self.content_layer])
        self.style_targets = []
        for style_float in style_floats:
            outputs = self.extractor(tf.constant(style_float[None], tf.float32))
            self.style_targets.append([tf.constant(outputs[name]) for name in self.style_layer_weights])
        self.image = tf.Variable(self.initial_image(), name="generated_image", dtype=tf.float32)
        self.optimizer = None
        self._train_step = None
        self._value_and_gradient = None
        self._evaluate = None

    # ---- pieces ---------------------------------------------------------------------------

    def initial_image(self) -> np.ndarray:
        """The starting image (1, H, W, 3) float32 in [0, 1] for the chosen ``init``."""
        rng = np.random.default_rng(self.seed)
        content = self.content_input.numpy()
        if self.init == "content":
            return content.copy()
        if self.init == "noise":
            return rng.uniform(0.0, 1.0, content.shape).astype(np.float32)
        noise = rng.uniform(-self.noise_ratio, self.noise_ratio, content.shape).astype(np.float32)
        return np.clip(content + noise, 0.0, 1.0)

    def reset(self) -> None:
        """Put the generated image back to its initial value and forget the optimiser state."""
        self.image.assign(self.initial_image())
        self.optimizer = None
        self._train_step = None

    def compute_losses(self, image) -> dict:
        """Losses of ``image`` (1, H, W, 3) in [0, 1]: ``{"content", "style", "tv", "total"}`` tensors."""
        import tensorflow as tf

        outputs = self.extractor(image)
        generated_style = [outputs[name] for name in self.style_layer_weights]
        layer_weights = list(self.style_layer_weights.values())
        J_content = self.content_cost_fn(self.content_target, outputs[self.content_layer])
        J_style = tf.add_n([blend * self.style_cost_fn(targets, generated_style, layer_weights)
                            for blend, targets in zip(self.style_blend, self.style_targets)])
        J_tv = self._tv_fn(image) if self.tv_weight else tf.constant(0.0)
        total = self.total_cost_fn(J_content, J_style, alpha=self.alpha, beta=self.beta) + self.tv_weight * J_tv
        return {"content": J_content, "style": J_style, "tv": J_tv, "total": total}

    @property
    def train_step(self) -> Callable[[], dict]:
        """Compiled Adam step on :attr:`image`: returns the losses *before* the update.

        Gradients are taken with respect to the generated image only; the image is clipped to
        [0, 1] after each update (as in the course).
        """
        if self._train_step is None:
            import keras
            import tensorflow as tf

            self.optimizer = keras.optimizers.Adam(learning_rate=self.learning_rate)

            @tf.function
            def step():
                with tf.GradientTape() as tape:
                    values = self.compute_losses(self.image)
                gradient = tape.gradient(values["total"], self.image)
                self.optimizer.apply_gradients([(gradient, self.image)])
                self.image.assign(tf.clip_by_value(self.image, 0.0, 1.0))
                return values

            self._train_step = step
        return self._train_step

    @property
    def value_and_gradient(self) -> Callable:
        """Compiled ``f(image) -> (losses dict, gradient of the total wrt image)``."""
        if self._value_and_gradient is None:
            import tensorflow as tf

            @tf.function(input_signature=[tf.TensorSpec([1, self.height, self.width, 3], tf.float32)])
            def evaluate(image):
                with tf.GradientTape() as tape:
                    tape.watch(image)
                    values = self.compute_losses(image)
                return values, tape.gradient(values["total"], image)

            self._value_and_gradient = evaluate
        return self._value_and_gradient

    def _losses_now(self) -> dict:
        """Losses of the current generated image (a compiled forward pass, no gradient)."""
        if self._evaluate is None:
            import tensorflow as tf

            self._evaluate = tf.function(self.compute_losses, input_signature=[
                tf.TensorSpec([1, self.height, self.width, 3], tf.float32)])
        return {key: float(value) for key, value in self._evaluate(tf_value(self.image)).items()}

    def current_image(self) -> np.ndarray:
        """The generated image as uint8 (colour-recombined when preserving colours)."""
        rgb = image_io.from_float_tensor(self.image)
        return combine_luminance(rgb, self.content_rgb) if self.preserve_colors else rgb

    def settings(self) -> dict:
        """Every setting of this engine, JSON-ready."""
        return {
            "preset": self.preset.name, "style_layers": self.style_layer_weights,
            "content_layer": self.content_layer, "alpha": self.alpha, "beta": self.beta,
            "tv_weight": self.tv_weight, "learning_rate": self.learning_rate, "init": self.init,
            "noise_ratio": self.noise_ratio, "seed": self.seed, "preserve_colors": self.preserve_colors,
            "style_blend": self.style_blend, "style_scale": self.style_scale,
            "height": self.height, "width": self.width, "compute_dtype": self.compute_dtype,
            "cost_functions": {"content": getattr(self.content_cost_fn, "__qualname__", str(self.content_cost_fn)),
                               "style": getattr(self.style_cost_fn, "__qualname__", str(self.style_cost_fn)),
                               "total": getattr(self.total_cost_fn, "__qualname__", str(self.total_cost_fn))},
        }

    # ---- optimisation ------------------------------------------------------------------------

    def run(self, steps: int, optimizer: str = "adam", snapshot_every: int | None = None,
            snapshot_dir=None, progress: bool = True, target_total: float | None = None) -> NSTResult:
        """Optimise the generated image for ``steps`` value+gradient evaluations.

        Args:
            steps: number of steps (Adam updates, or L-BFGS function evaluations).
            optimizer: ``"adam"`` (the course's) or ``"lbfgs"`` (scipy L-BFGS-B with [0, 1] bounds).
            snapshot_every: keep a snapshot every N steps (and at step 0) for :meth:`NSTResult.grid`.
            snapshot_dir: also write the snapshots there as ``step_NNNN.png``.
            progress: show a tqdm bar with the current losses.
            target_total: stop early once the total loss reaches this value (time-to-quality).

        Returns:
            An :class:`NSTResult`.
        """
        from tqdm.auto import tqdm

        if optimizer not in OPTIMIZERS:
            raise NSTError(f"optimizer must be one of {OPTIMIZERS}; got {optimizer!r}")
        if int(steps) < 1:
            raise NSTError(f"steps must be at least 1; got {steps}")
        steps = int(steps)
        if optimizer == "lbfgs":  # compiles value_and_gradient before the clock starts
            values, _ = self.value_and_gradient(tf_value(self.image))
            initial = {key: float(value) for key, value in values.items()}
        else:
            initial = self._losses_now()
        history: list = []
        snapshots: list = []
        if snapshot_every:
            snapshots.append((0, self.current_image()))
        snapshot_dir = Path(snapshot_dir) if snapshot_dir else None
        bar = tqdm(total=steps, desc=f"NST {optimizer}", disable=not progress, leave=False)
        timing = {"start": None, "compiled_at": None}
        start = time.perf_counter()

        def record(step: int, values: dict) -> bool:
            now = time.perf_counter()
            if step == 1:
                timing["compiled_at"] = now
            entry = {"step": step, **{k: float(v) for k, v in values.items()}, "seconds": now - start}
            history.append(entry)
            bar.update(1)
            bar.set_postfix(total=f"{entry['total']:.4g}", content=f"{entry['content']:.3g}",
                            style=f"{entry['style']:.3g}", refresh=False)
            if snapshot_every and step % snapshot_every == 0:
                snapshots.append((step, self.current_image()))
                if snapshot_dir:
                    image_io.save_image(snapshot_dir / f"step_{step:04d}.png", snapshots[-1][1])
            return target_total is not None and entry["total"] <= target_total

        if optimizer == "adam":
            step_fn = self.train_step
            for step in range(1, steps + 1):
                if record(step, step_fn()):
                    break
        else:
            self._run_lbfgs(steps, record)
        end = time.perf_counter()
        bar.close()
        final = self._losses_now()
        done = len(history)
        if done > 1 and timing["compiled_at"] is not None:
            seconds_per_step = (end - timing["compiled_at"]) / (done - 1)
        else:
            seconds_per_step = end - start
        if snapshot_every and (not snapshots or snapshots[-1][0] != done):
            snapshots.append((done, self.current_image()))
        return NSTResult(image=self.current_image(), initial_losses=initial, final_losses=final,
                         seconds_per_step=seconds_per_step, steps=done, optimizer=optimizer,
                         provenance=self.extractor.provenance(), settings=self.settings(),
                         history=history, snapshots=snapshots, total_seconds=end - start)

    def _run_lbfgs(self, steps: int, record: Callable[[int, dict], bool]) -> None:
        """scipy L-BFGS-B on the flattened image, bounds [0, 1], ``steps`` function evaluations."""
        import tensorflow as tf
        from scipy.optimize import minimize

        shape = (1, self.height, self.width, 3)
        counter = {"step": 0, "stop": False, "best": (math.inf, None)}

        class _Stop(Exception):
            pass

        def fun(flat):
            image = tf.constant(flat.reshape(shape), tf.float32)
            values, gradient = self.value_and_gradient(image)
            counter["step"] += 1
            total = float(values["total"])
            if total < counter["best"][0]:
                counter["best"] = (total, flat.copy())
            self.image.assign(image)
            if record(counter["step"], values) or counter["step"] >= steps:
                counter["stop"] = True
            return total, gradient.numpy().astype(np.float64).ravel()

        def callback(*_):
            if counter["stop"]:
                raise _Stop

        x0 = self.image.numpy().astype(np.float64).ravel()
        try:
            outcome = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * x0.size,
                               callback=callback, options={"maxiter": steps, "maxfun": steps, "maxcor": 20})
            best = outcome.x if outcome.fun <= counter["best"][0] else counter["best"][1]
        except _Stop:
            best = counter["best"][1]
        self.image.assign(best.reshape(shape).astype(np.float32))


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m utils.nst",
                                     description="Neural style transfer on ImageNet VGG19 (Gatys et al.).")
    parser.add_argument("--content", required=True, help="content image")
    parser.add_argument("--style", required=True, nargs="+", help="one or more style images")
    parser.add_argument("--output", required=True, help="output image (.png/.jpg)")
    parser.add_argument("--size", type=int, default=400, help="longer side in pixels (default 400)")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps (default 300)")
    parser.add_argument("--preset", default=DEFAULT_PRESET, help=f"one of {', '.join(PRESETS)}")
    parser.add_argument("--style-weights", type=float, nargs="+", help="blend weights, one per style")
    parser.add_argument("--style-scale", type=float, default=1.0, help="brush-stroke scale (default 1)")
    parser.add_argument("--preserve-colors", action="store_true", help="keep the content's colours")
    parser.add_argument("--tv-weight", type=float, help="total-variation weight (default: preset's)")
    parser.add_argument("--alpha", type=float, help="content weight (default: preset's)")
    parser.add_argument("--beta", type=float, help="style weight (default: preset's)")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate (default: preset's)")
    parser.add_argument("--optimizer", default="lbfgs", choices=OPTIMIZERS, help="default lbfgs")
    parser.add_argument("--init", default="content", choices=INITS)
    parser.add_argument("--weights", default="auto", help="auto, full, partial or an .h5 path")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--snapshot-every", type=int, help="keep a snapshot every N steps")
    parser.add_argument("--grid", help="write the iteration grid (PNG) here")
    parser.add_argument("--plot", help="write the loss-curve plot (PNG) here")
    parser.add_argument("--json", help="write losses, timings, weights file and layers here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns 0, or 2 for bad input (reported before any work)."""
    from utils import assets

    args = build_parser().parse_args(argv)
    try:
        if args.steps < 1:
            raise NSTError(f"--steps must be at least 1; got {args.steps}")
        output = Path(args.output)
        if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            raise NSTError(f"--output must end in .png, .jpg or .jpeg; got {output}")
        engine = StyleTransfer(args.content, args.style, preset=args.preset, style_weights=args.style_weights,
                               size=args.size, style_scale=args.style_scale, alpha=args.alpha, beta=args.beta,
                               tv_weight=args.tv_weight, learning_rate=args.learning_rate, init=args.init,
                               preserve_colors=args.preserve_colors, weights=args.weights,
                               compute_dtype=args.dtype, seed=args.seed)
    except (ValueError, assets.AssetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = engine.run(args.steps, optimizer=args.optimizer, snapshot_every=args.snapshot_every,
                        progress=not args.no_progress)
    result.save(output)
    if args.json:
        record = result.to_dict()
        record.update({"content": str(args.content), "styles": [str(s) for s in args.style],
                       "output": str(output)})
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    if args.grid:
        result.grid(path=args.grid)
    if args.plot:
        result.plot_losses(path=args.plot)
    print(f"wrote {output}: total loss {result.initial_losses['total']:.4g} -> {result.final_losses['total']:.4g} "
          f"in {result.steps} {args.optimizer} steps, {result.seconds_per_step:.3f} s/step, "
          f"{result.provenance['weights_kind']} weights ({result.provenance['weights_file']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
