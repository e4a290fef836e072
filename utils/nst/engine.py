"""The style-transfer engine: optimise an image's pixels against VGG19 content and style costs.

:class:`StyleTransfer` optimises a generated image so that its VGG19 activations match a content
image at one layer (content cost) and the Gram matrices of one or more style images at several
layers (style cost), plus a small total-variation term. The costs default to :mod:`utils.losses`
(the course's definitions); a notebook can plug a learner's own functions in through
``content_cost_fn``, ``style_cost_fn`` and ``total_cost_fn``. What to optimise is one
:class:`~utils.nst.settings.NSTSettings` (a preset plus overrides); the keywords of
:class:`StyleTransfer` are forwarded to it.

The pieces are exposed: :attr:`StyleTransfer.extractor` (VGG19 truncated at the deepest layer
needed, :mod:`utils.nst.vgg`), the targets computed once (:attr:`StyleTransfer.content_target`,
:attr:`StyleTransfer.style_targets`), :meth:`StyleTransfer.compute_losses`, the compiled Adam
:attr:`StyleTransfer.train_step` and :attr:`StyleTransfer.value_and_gradient` (for L-BFGS).

Images enter as RGB in [0, 1]; VGG's ImageNet preprocessing is inside the extractor. The generated
image is kept in [0, 1] (clipped after each Adam step; box bounds for L-BFGS).

Example:
    >>> from utils import assets
    >>> folder = assets.resolve("nst_images")                          # doctest: +SKIP
    >>> engine = StyleTransfer(folder / "content" / "tubingen.jpg",
    ...                        [folder / "style" / "starry_night.jpg"], size=256)  # doctest: +SKIP
    >>> result = engine.run(steps=200)                                  # doctest: +SKIP
    >>> result.save("out.png"); result.final_losses["total"]            # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from utils import files, image_io, plotting
from utils.errors import ImageError, NSTError
from utils.nst import images, vgg
from utils.nst.settings import DEFAULT_PRESET, OPTIMIZERS, NSTSettings, get_preset

__all__ = ["MEMORY_FRACTION", "NSTResult", "StyleTransfer"]

#: Safety margin: refuse sizes whose estimated activation memory exceeds this share of free RAM.
MEMORY_FRACTION = 0.6


def _load(source, what: str) -> np.ndarray:
    try:
        return image_io.load_image(source)
    except ImageError as error:
        raise ImageError(f"{what}: {error}") from None


def _read(variable):
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
        settings: every setting of the run (JSON-ready, see :meth:`StyleTransfer.describe`).
        history: one dict of losses per step (``step`` is 1-based), plus ``seconds`` since start.
        snapshots: ``[(step, uint8 image)]`` every ``snapshot_every`` steps (and the start).
        total_seconds: wall time of the whole run.
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
        """Write the image (PNG/JPEG by extension, atomically) and return the path."""
        return image_io.save_image(path, self.image)

    def save_json(self, path, **extra) -> Path:
        """Write :meth:`to_dict` (plus ``extra`` keys) as JSON, atomically; return the path."""
        return files.write_text(path, json.dumps({**self.to_dict(), **extra}, indent=2) + "\n")

    def plot_losses(self, path=None):
        """Plot the loss curves (log scale) against steps; return the Figure (see
        :func:`utils.plotting.plot_loss_history`)."""
        return plotting.plot_loss_history(
            self.history, title=f"NST losses ({self.optimizer}, {self.provenance.get('weights_kind')} weights)",
            xlabel="step (value+gradient evaluations)", path=path)

    def grid(self, path=None, ncols: int | None = None):
        """Show the snapshots and the final image in a grid; return the Figure (see
        :func:`utils.plotting.show_snapshots`)."""
        return plotting.show_snapshots(self.snapshots, final=(self.steps, self.image), ncols=ncols, path=path)


# --------------------------------------------------------------------------------------------
# Engine
# --------------------------------------------------------------------------------------------

class StyleTransfer:
    """Gatys-style neural style transfer on VGG19 with pluggable cost functions.

    Everything is validated (settings, images readable, layers known and with weights, image large
    enough for the deepest layer, activation memory within free RAM) before VGG19 is built.

    Args:
        content: content image (path or array).
        styles: one style image or a list of them (paths or arrays).
        settings: an :class:`~utils.nst.settings.NSTSettings` (default: the default preset).
        content_cost_fn: ``f(a_C, a_G) -> scalar`` (default ``utils.losses.content_cost``).
        style_cost_fn: ``f(style_outputs, generated_outputs, layer_weights) -> scalar`` (default
            ``utils.losses.style_cost``); called once per style image.
        total_cost_fn: ``f(J_content, J_style, alpha, beta) -> scalar`` (default
            ``utils.losses.total_cost``). The total-variation term is added to its result.
        **overrides: any :class:`~utils.nst.settings.NSTSettings` attribute (``preset``, ``size``,
            ``style_weights``, ``alpha``, ``preserve_colors``, ...), applied on top of ``settings``.

    Raises:
        NSTError, MissingWeightsError, ImageError: bad settings or images, before any heavy work.

    Example:
        >>> engine = StyleTransfer("photo.jpg", ["painting.jpg"], preset="blocks123",
        ...                        size=256, preserve_colors=True)             # doctest: +SKIP
        >>> engine.settings.content_layer                                     # doctest: +SKIP
        'block3_conv2'
    """

    def __init__(self, content, styles, settings: NSTSettings | None = None, *,
                 content_cost_fn: Callable | None = None, style_cost_fn: Callable | None = None,
                 total_cost_fn: Callable | None = None, **overrides):
        # ---- settings (no heavy work) -------------------------------------------------------
        if settings is None:
            settings = NSTSettings.from_preset(overrides.pop("preset", None) or DEFAULT_PRESET, **overrides)
        elif overrides:
            settings = settings.replace(**{key: value for key, value in overrides.items() if value is not None})
        self.settings = settings
        self.preset = get_preset(settings.preset)
        self.layers = settings.layers
        self.weights_choice = vgg.choose_weights(self.layers, settings.weights, settings.allow_random_weights)

        # ---- images --------------------------------------------------------------------------
        style_sources = [styles] if isinstance(styles, (str, Path, np.ndarray)) else list(styles)
        if not style_sources:
            raise NSTError("give at least one style image")
        style_weights = settings.style_weights or (1.0,) * len(style_sources)
        if len(style_weights) != len(style_sources):
            raise NSTError(f"need one non-negative style weight per style image ({len(style_sources)}), "
                           f"not all zero; got {list(style_weights)}")
        self.style_blend = [weight / sum(style_weights) for weight in style_weights]
        content_image = _load(content, "content image")
        style_images = [_load(source, f"style image {index + 1}") for index, source in enumerate(style_sources)]
        height, width = content_image.shape[:2]
        if settings.size is not None:
            scale = settings.size / max(height, width)
            height, width = max(1, round(height * scale)), max(1, round(width * scale))
        deepest = vgg.deepest_layer(self.layers)
        minimum = vgg.minimum_input_size(self.layers)
        if min(height, width) < minimum:
            raise NSTError(f"the content image is {height}x{width} px after resizing, too small for layer "
                           f"{deepest}: every side must be at least {minimum} px")
        needed = vgg.estimate_activation_bytes(self.layers, height, width,
                                               bytes_per_value=4 if settings.compute_dtype == "float32" else 2)
        available = vgg.available_memory_bytes()
        if available is not None and needed > MEMORY_FRACTION * available:
            raise NSTError(f"a {height}x{width} image through VGG19 up to {deepest} needs about "
                           f"{needed / 2**30:.1f} GiB of activation memory but only "
                           f"{available / 2**30:.1f} GiB is free: use a smaller --size")
        if (height, width) != content_image.shape[:2]:
            content_image = image_io.resize(content_image, (height, width))
        style_images = [images.prepare_style_image(image, height, width, settings.style_scale)
                        for image in style_images]
        self.content_rgb = content_image
        self.style_rgbs = style_images
        self.height, self.width = height, width

        # ---- heavy work: TensorFlow, VGG19 and the targets (computed once) -------------------
        import tensorflow as tf  # deferred: TensorFlow is slow to import

        from utils import losses  # deferred: utils.losses imports TensorFlow

        if settings.preserve_colors:
            content_float = images.luminance_image(content_image)
            style_floats = [images.luminance_image(image, match_to=content_image) for image in style_images]
        else:
            content_float = content_image.astype(np.float32) / 255.0
            style_floats = [image.astype(np.float32) / 255.0 for image in style_images]
        self.content_cost_fn = content_cost_fn or losses.content_cost
        self.style_cost_fn = style_cost_fn or losses.style_cost
        self.total_cost_fn = total_cost_fn or losses.total_cost
        self._tv_fn = losses.total_variation_loss
        self.extractor = vgg.build_extractor(self.layers, weights=settings.weights,
                                             allow_random_weights=settings.allow_random_weights,
                                             compute_dtype=settings.compute_dtype, seed=settings.seed)
        self.content_input = tf.constant(content_float[None], tf.float32)
        self.content_target = tf.constant(self.extractor(self.content_input)[settings.content_layer])
        self.style_targets = []
        for style_float in style_floats:
            outputs = self.extractor(tf.constant(style_float[None], tf.float32))
            self.style_targets.append([tf.constant(outputs[name]) for name in settings.style_layers])
        self.image = tf.Variable(self.initial_image(), name="generated_image", dtype=tf.float32)
        self.optimizer = None
        self._train_step = None
        self._value_and_gradient = None
        self._evaluate = None

    # ---- pieces ---------------------------------------------------------------------------

    def initial_image(self) -> np.ndarray:
        """The starting image (1, H, W, 3) float32 in [0, 1] for the chosen ``init``."""
        rng = np.random.default_rng(self.settings.seed)
        content = self.content_input.numpy()
        if self.settings.init == "content":
            return content.copy()
        if self.settings.init == "noise":
            return rng.uniform(0.0, 1.0, content.shape).astype(np.float32)
        ratio = self.settings.noise_ratio
        noise = rng.uniform(-ratio, ratio, content.shape).astype(np.float32)
        return np.clip(content + noise, 0.0, 1.0)

    def reset(self) -> None:
        """Put the generated image back to its initial value and forget the optimiser state."""
        self.image.assign(self.initial_image())
        self.optimizer = None
        self._train_step = None

    def compute_losses(self, image) -> dict:
        """Losses of ``image`` (1, H, W, 3) in [0, 1]: ``{"content", "style", "tv", "total"}`` tensors."""
        import tensorflow as tf  # deferred: TensorFlow is slow to import

        settings = self.settings
        outputs = self.extractor(image)
        generated_style = [outputs[name] for name in settings.style_layers]
        layer_weights = list(settings.style_layers.values())
        J_content = self.content_cost_fn(self.content_target, outputs[settings.content_layer])
        J_style = tf.add_n([blend * self.style_cost_fn(targets, generated_style, layer_weights)
                            for blend, targets in zip(self.style_blend, self.style_targets)])
        J_tv = self._tv_fn(image) if settings.tv_weight else tf.constant(0.0)
        total = self.total_cost_fn(J_content, J_style, alpha=settings.alpha, beta=settings.beta) \
            + settings.tv_weight * J_tv
        return {"content": J_content, "style": J_style, "tv": J_tv, "total": total}

    @property
    def train_step(self) -> Callable[[], dict]:
        """Compiled Adam step on :attr:`image`: returns the losses *before* the update.

        Gradients are taken with respect to the generated image only; the image is clipped to
        [0, 1] after each update (as in the course).
        """
        if self._train_step is None:
            import keras  # deferred: Keras imports TensorFlow
            import tensorflow as tf  # deferred: TensorFlow is slow to import

            self.optimizer = keras.optimizers.Adam(learning_rate=self.settings.learning_rate)

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
            import tensorflow as tf  # deferred: TensorFlow is slow to import

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
            import tensorflow as tf  # deferred: TensorFlow is slow to import

            self._evaluate = tf.function(self.compute_losses, input_signature=[
                tf.TensorSpec([1, self.height, self.width, 3], tf.float32)])
        return {key: float(value) for key, value in self._evaluate(_read(self.image)).items()}

    def current_image(self) -> np.ndarray:
        """The generated image as uint8 (colour-recombined when preserving colours)."""
        rgb = image_io.from_float_tensor(self.image)
        return images.combine_luminance(rgb, self.content_rgb) if self.settings.preserve_colors else rgb

    def describe(self) -> dict:
        """Every setting of this engine, JSON-ready: the settings plus the image size, the style
        blend and the cost functions in use."""
        def name_of(function):
            return getattr(function, "__qualname__", str(function))

        return {**self.settings.to_dict(), "style_blend": self.style_blend, "height": self.height,
                "width": self.width,
                "cost_functions": {"content": name_of(self.content_cost_fn), "style": name_of(self.style_cost_fn),
                                   "total": name_of(self.total_cost_fn)}}

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

        Raises:
            NSTError: unknown optimiser or fewer than one step.
        """
        if optimizer not in OPTIMIZERS:
            raise NSTError(f"optimizer must be one of {OPTIMIZERS}; got {optimizer!r}")
        if int(steps) < 1:
            raise NSTError(f"steps must be at least 1; got {steps}")
        steps = int(steps)
        if optimizer == "lbfgs":  # compiles value_and_gradient before the clock starts
            values, _ = self.value_and_gradient(_read(self.image))
            initial = {key: float(value) for key, value in values.items()}
        else:
            initial = self._losses_now()
        history: list = []
        snapshots: list = []
        if snapshot_every:
            snapshots.append((0, self.current_image()))
        snapshot_dir = Path(snapshot_dir) if snapshot_dir else None
        bar = tqdm(total=steps, desc=f"NST {optimizer}", disable=not progress, leave=False)
        timing = {"compiled_at": None}
        start = time.perf_counter()

        def record(step: int, values: dict) -> bool:
            now = time.perf_counter()
            if step == 1:
                timing["compiled_at"] = now
            entry = {"step": step, **{key: float(value) for key, value in values.items()}, "seconds": now - start}
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
            step_function = self.train_step
            for step in range(1, steps + 1):
                if record(step, step_function()):
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
                         provenance=self.extractor.provenance(), settings=self.describe(),
                         history=history, snapshots=snapshots, total_seconds=end - start)

    def _run_lbfgs(self, steps: int, record: Callable[[int, dict], bool]) -> None:
        """scipy L-BFGS-B on the flattened image, bounds [0, 1], ``steps`` function evaluations."""
        import tensorflow as tf  # deferred: TensorFlow is slow to import
        from scipy.optimize import minimize  # deferred: scipy is slow to import

        shape = (1, self.height, self.width, 3)
        counter = {"step": 0, "stop": False, "best": (math.inf, None)}

        def function(flat):
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
                raise StopIteration  # scipy ends the minimisation and returns the current point

        start = self.image.numpy().astype(np.float64).ravel()
        outcome = minimize(function, start, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * start.size,
                           callback=callback, options={"maxiter": steps, "maxfun": steps, "maxcor": 20})
        best = outcome.x if outcome.fun <= counter["best"][0] else counter["best"][1]
        self.image.assign(best.reshape(shape).astype(np.float32))
