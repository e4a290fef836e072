"""The controls of notebooks 05 and 06: a unit explorer, and "predict before you run".

* :class:`UnitExplorer` (notebook 05): a layer dropdown and a unit slider over the nine image
  patches that excite a VGG19 unit most and the image that gradient ascent synthesises for it.
  Everything the slider shows is computed once (:func:`precompute_unit_views`, one progress bar),
  kept as PNG bytes, so moving the slider only swaps two images. Layers whose weights are not
  installed (blocks 4–5 with only the partial VGG19 file) are listed in the dropdown; choosing one
  says in one line why it cannot be shown and how to get it (:func:`missing_weights_line`).
* :class:`PredictionControl` (notebook 06): before Keras builds a model, the learner types each
  layer's output shape and parameter count. :func:`check_prediction` confirms a prediction or says
  which term of which formula went wrong (the ``+ 1`` of the output size, the ``C_in`` of the
  parameter count, the biases, the power ``F^d``, ...), then Keras builds the model and its own
  numbers appear beside the learner's (:func:`keras_confirms`). The lecture's three models are
  :data:`LECTURE_MODELS`.

Both are shown with :func:`utils.widgets.show_control`, whose plain-text form (what the control
shows for its default value) is what a run without a front end prints (:meth:`UnitExplorer.summary`,
:meth:`PredictionControl.summary`).

This module imports the core (assets, widgets, plotting) and its own package; the VGG19 extractor
comes from the notebook as a function (``model_for_layer``), so the package does not import
``utils.nst``.

Example:
    >>> verdict = check_prediction(LECTURE_MODELS["2d"], 0, "10 x 10 x 3", "1216")
    >>> verdict.shape_right, verdict.count_right
    (False, True)
    >>> print(verdict.shape_message)
    the last number is the number of filters (16), not the input's 3 channels: each filter gives one output channel
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import math
import re
from collections.abc import Callable, Sequence

import ipywidgets
import numpy as np
from tqdm.auto import tqdm

from utils import assets
from utils.convnets import arithmetic
from utils.convnets.visualize import LayerMaxima, top_patches, unit_activations, visualize_units
from utils.errors import UsageError
from utils.image_io import resize
from utils.plotting import patch_grid
from utils.widgets import MessageLine, png_bytes

__all__ = [
    "FULL_WEIGHTS_ASSET",
    "FETCH_COMMAND",
    "VIEW_SIZE",
    "missing_weights_line",
    "UnitView",
    "precompute_unit_views",
    "UnitExplorer",
    "ConvLayer",
    "ConvModel",
    "LECTURE_MODELS",
    "parse_shape",
    "parse_count",
    "LayerVerdict",
    "check_prediction",
    "keras_confirms",
    "KerasResult",
    "PredictionControl",
]

#: The asset that holds VGG19's deeper blocks (4 and 5).
FULL_WEIGHTS_ASSET = "vgg19_full"

#: The command that fetches it (the registry's ``how_to_get`` names the same; a test keeps them equal).
FETCH_COMMAND = f"python -m utils.assets fetch {FULL_WEIGHTS_ASSET}"

#: Edge length, in pixels, of the patch grid and of the synthetic image the explorer shows.
VIEW_SIZE = 216


# ------------------------------------------------------------------------------------------------
# Notebook 05: the unit explorer
# ------------------------------------------------------------------------------------------------


def missing_weights_line(layers: Sequence[str]) -> str:
    """One line: why ``layers`` cannot be shown with the partial VGG19 weights, and how to get them.

    Example:
        >>> print(missing_weights_line(["block4_conv2", "block5_conv2"]))  # doctest: +ELLIPSIS
        block4_conv2, block5_conv2 cannot be shown: only the partial VGG19 weights (blocks 1–3) are installed, ...
    """
    size = assets.get(FULL_WEIGHTS_ASSET).size
    megabytes = f" ({size / 1e6:.0f} MB)" if size else ""
    return (
        f"{', '.join(layers)} cannot be shown: only the partial VGG19 weights (blocks 1–3) are installed, "
        f"and without their ImageNet weights these layers would be random filters. Get asset "
        f"'{FULL_WEIGHTS_ASSET}'{megabytes} with `{FETCH_COMMAND}`, then run the notebook again."
    )


@dataclasses.dataclass(frozen=True)
class UnitView:
    """What the explorer shows for one unit, ready to draw.

    Attributes:
        layer, unit: which unit.
        field_size: its receptive field in pixels.
        top_activation: its strongest activation over the collection (the first patch's).
        synthetic_activation: the mean activation of its synthetic image.
        patches_png: the nine patches as one 3 × 3 tile, PNG bytes.
        synthetic_png: the synthetic image, PNG bytes.
    """

    layer: str
    unit: int
    field_size: int
    top_activation: float
    synthetic_activation: float
    patches_png: bytes
    synthetic_png: bytes

    def caption(self) -> str:
        """One line describing the unit's two pictures."""
        return (
            f"{self.layer} unit {self.unit}: receptive field {self.field_size} px; strongest activation in "
            f"the collection {self.top_activation:.0f} (first patch), mean activation of its synthetic "
            f"image {self.synthetic_activation:.0f}"
        )


def precompute_unit_views(
    maxima: dict[str, LayerMaxima],
    images: np.ndarray,
    fields: dict,
    units: dict[str, list[int]],
    model_for_layer: Callable[[str], Callable],
    size: int = 64,
    steps: int = 24,
    octaves: int = 2,
    progress: bool = True,
) -> dict[str, list[UnitView]]:
    """Everything the explorer's slider shows, computed once: top patches and a synthetic image per unit.

    Args:
        maxima: ``{layer: LayerMaxima}`` from :func:`utils.convnets.activation_maxima` on ``images``.
        images: the collection (uint8 ``(n, H, W, 3)``).
        fields: ``{layer: ReceptiveField}`` (e.g. :func:`utils.convnets.model_receptive_fields`).
        units: ``{layer: [unit, ...]}``: the units the slider offers.
        model_for_layer: ``layer -> model`` mapping a [0, 1] float batch to ``{layer: activations}``
            (e.g. ``lambda layer: utils.nst.build_extractor([layer])``).
        size, steps, octaves: of the synthetic images (:func:`utils.convnets.visualize_units`).
        progress: show one progress bar over the layers.

    Returns:
        ``{layer: [UnitView, ...]}`` in the order of ``units``.

    Raises:
        UsageError: a layer of ``units`` without maxima or field, or a layer with no unit.
    """
    missing = [layer for layer in units if layer not in maxima or layer not in fields]
    if missing:
        raise UsageError(f"no activation maxima or receptive field for layer(s) {missing}")
    views = {}
    for layer in tqdm(list(units), desc="unit explorer: patches and synthetic images", disable=not progress):
        chosen = [int(unit) for unit in units[layer]]
        if not chosen:
            raise UsageError(f"give at least one unit of layer {layer}")
        model = model_for_layer(layer)
        synthetic = visualize_units(model, layer, chosen, size=size, steps=steps, octaves=octaves, progress=False)
        scores = unit_activations(model, layer, synthetic, chosen)
        views[layer] = []
        for unit, image, score in zip(chosen, synthetic, scores):
            found = top_patches(maxima[layer], images, fields[layer], unit)
            views[layer].append(
                UnitView(
                    layer,
                    unit,
                    int(found.field_size[0]),
                    float(found.scores[0]),
                    float(score),
                    png_bytes(patch_grid(found.patches, size=(VIEW_SIZE - 4) // 3, gap=2)),
                    png_bytes(resize(image, (VIEW_SIZE, VIEW_SIZE))),
                )
            )
    return views


class UnitExplorer(ipywidgets.VBox):
    """A layer dropdown and a unit slider over precomputed :class:`UnitView` s.

    Args:
        views: ``{layer: [UnitView, ...]}`` (:func:`precompute_unit_views`).
        missing_layers: deeper layers that cannot be shown here, listed in the dropdown after the
            others; choosing one shows :func:`missing_weights_line`.

    Attributes:
        layer: the dropdown (its value is a layer name).
        unit: the slider (its value is a unit number of that layer).
        patches, synthetic: the two images; caption: their description; message: the line for a
            layer that cannot be shown.

    Example:
        >>> view = UnitView("block1_conv2", 3, 5, 210.0, 95.0, b"", b"")
        >>> explorer = UnitExplorer({"block1_conv2": [view]}, missing_layers=["block4_conv2"])
        >>> explorer.layer.value, explorer.unit.value
        ('block1_conv2', 3)
    """

    def __init__(self, views: dict[str, list[UnitView]], missing_layers: Sequence[str] = ()):
        views = {layer: list(found) for layer, found in views.items() if found}
        if not views:
            raise UsageError("the unit explorer needs at least one layer with units (precompute_unit_views)")
        self.views = views
        self.missing_layers = [layer for layer in missing_layers if layer not in views]
        options = [
            (f"{layer} ({found[0].field_size} px fields, {len(found)} units)", layer) for layer, found in views.items()
        ]
        options += [(f"{layer} (needs {FULL_WEIGHTS_ASSET})", layer) for layer in self.missing_layers]
        first = next(iter(views))
        self.layer = ipywidgets.Dropdown(
            options=options, value=first, description="layer", layout=ipywidgets.Layout(width="420px")
        )
        self.unit = ipywidgets.SelectionSlider(
            options=[view.unit for view in views[first]],
            value=views[first][0].unit,
            description="unit",
            continuous_update=True,
            layout=ipywidgets.Layout(width="420px"),
        )
        self.patches = ipywidgets.Image(format="png", width=VIEW_SIZE, height=VIEW_SIZE)
        self.synthetic = ipywidgets.Image(format="png", width=VIEW_SIZE, height=VIEW_SIZE)
        self.caption = ipywidgets.HTML()
        self.message = MessageLine()
        titles = ipywidgets.HBox(
            [
                ipywidgets.HTML(f'<div style="width:{VIEW_SIZE}px"><b>top nine patches</b></div>'),
                ipywidgets.HTML(f'<div style="width:{VIEW_SIZE}px"><b>synthetic image</b></div>'),
            ]
        )
        super().__init__(
            [
                ipywidgets.HBox([self.layer, self.unit]),
                titles,
                ipywidgets.HBox([self.patches, self.synthetic]),
                self.caption,
                self.message,
            ]
        )
        self.layer.observe(self._layer_changed, names="value")
        self.unit.observe(self._unit_changed, names="value")
        self._show(first, views[first][0].unit)

    def current(self) -> UnitView | None:
        """The unit shown now (None while a layer that cannot be shown is chosen)."""
        return next((view for view in self.views.get(self.layer.value, []) if view.unit == self.unit.value), None)

    def select(self, layer: str, unit: int | None = None) -> None:
        """Choose ``layer`` (and ``unit``) as the dropdown and the slider would (tests, scripts)."""
        known = [value for _, value in self.layer.options]
        if layer not in known:
            raise UsageError(f"the explorer has no layer {layer!r}; it has {known}")
        self.layer.value = layer
        if unit is not None:
            if layer not in self.views or unit not in self.unit.options:
                raise UsageError(
                    f"unit {unit} of {layer} is not precomputed; the slider offers {list(self.unit.options)}"
                )
            self.unit.value = unit

    def _layer_changed(self, change) -> None:
        layer = change["new"]
        if layer not in self.views:
            self._show(layer, None)
            return
        units = [view.unit for view in self.views[layer]]
        self.unit.unobserve(self._unit_changed, names="value")
        try:
            self.unit.options = units
            self.unit.value = units[0]
        finally:
            self.unit.observe(self._unit_changed, names="value")
        self.unit.disabled = False
        self._show(layer, units[0])

    def _unit_changed(self, change) -> None:
        self._show(self.layer.value, change["new"])

    def _show(self, layer: str, unit: int | None) -> None:
        view = next((found for found in self.views.get(layer, []) if found.unit == unit), None)
        if view is None:
            self.unit.disabled = True
            self.patches.value = b""
            self.synthetic.value = b""
            self.caption.value = ""
            self.message.error(missing_weights_line([layer]))
            return
        self.patches.value = view.patches_png
        self.synthetic.value = view.synthetic_png
        self.caption.value = html.escape(view.caption())
        self.message.clear()

    def summary(self) -> str:
        """The explorer as text: what it shows now, the layers it offers, and why any are missing."""
        view = self.current()
        lines = [
            f"Unit explorer: {view.caption() if view else self.message.text}",
            "layers: "
            + "; ".join(
                f"{layer}, units {', '.join(str(found.unit) for found in views)}" for layer, views in self.views.items()
            ),
        ]
        if self.missing_layers:
            lines.append(missing_weights_line(self.missing_layers))
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Notebook 06: predict before you run
# ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConvLayer:
    """One convolution: ``filters`` filters of size ``kernel_size`` along every axis.

    Attributes:
        filters: output channels (C_out).
        kernel_size: F.
        stride: S.
        padding: zeros on each side of every axis (p).
    """

    filters: int
    kernel_size: int
    stride: int = 1
    padding: int = 0


@dataclasses.dataclass(frozen=True)
class ConvModel:
    """A small model of convolutions to predict: its input and its layers.

    Attributes:
        key: a short name ("2d", "1d", "3d").
        title: what the control calls it.
        input_shape: ``(*spatial, channels)`` without the batch axis.
        layers: the convolutions, in order.
    """

    key: str
    title: str
    input_shape: tuple[int, ...]
    layers: tuple[ConvLayer, ...]

    @property
    def rank(self) -> int:
        """Number of axes the filters slide along (1, 2 or 3)."""
        return len(self.input_shape) - 1

    def layer_input(self, index: int) -> tuple[int, ...]:
        """The input shape of layer ``index`` (the previous layer's output)."""
        shape = self.input_shape
        for layer in self.layers[:index]:
            shape = arithmetic.conv_output_shape(shape, layer.filters, layer.kernel_size, layer.stride, layer.padding)
        return tuple(shape)

    def expected(self, index: int) -> tuple[tuple[int, ...], int]:
        """``(output shape, parameter count)`` of layer ``index`` by the formulas."""
        layer, shape = self.layers[index], self.layer_input(index)
        output = arithmetic.conv_output_shape(shape, layer.filters, layer.kernel_size, layer.stride, layer.padding)
        count = arithmetic.conv_param_count(layer.kernel_size, shape[-1], layer.filters, rank=self.rank)
        return tuple(output), int(count)

    def describe(self, index: int) -> str:
        """Layer ``index`` in words, without its input shape after the first (that is the previous answer)."""
        layer = self.layers[index]
        window = " × ".join([str(layer.kernel_size)] * self.rank)
        extras = "".join(
            [
                f", stride {layer.stride}" if layer.stride != 1 else "",
                f", {layer.padding} zeros of padding" if layer.padding else "",
            ]
        )
        source = (
            f" on {_shape_text(self.input_shape)}"
            if index == 0
            else " on layer 1's output"
            if index == 1
            else f" on layer {index}'s output"
        )
        return f"layer {index + 1}: Conv{self.rank}D, {layer.filters} filters of {window}{extras}{source}"


#: The lecture's three models: the 2-D recap, the 1-D example (two layers) and the 3-D example (two layers).
LECTURE_MODELS = {
    "2d": ConvModel("2d", "The lecture's 2-D recap", (14, 14, 3), (ConvLayer(16, 5),)),
    "1d": ConvModel(
        "1d", "The lecture's 1-D example (an ECG-like signal)", (14, 1), (ConvLayer(16, 5), ConvLayer(32, 5))
    ),
    "3d": ConvModel(
        "3d", "The lecture's 3-D example (a CT-like volume)", (14, 14, 14, 1), (ConvLayer(16, 5), ConvLayer(32, 5))
    ),
}


def _shape_text(shape: Sequence[int]) -> str:
    return " × ".join(str(number) for number in shape)


def parse_shape(text: str) -> tuple[int, ...]:
    """A typed shape as a tuple: ``"10 x 10 x 16"``, ``"10×10×16"``, ``"(10, 10, 16)"``, ``"(None, 10, 16)"``.

    Raises:
        UsageError: nothing typed, or something that is not whole numbers separated by ``x`` or commas.

    Example:
        >>> parse_shape("(None, 10, 10, 16)"), parse_shape("6 x 32")
        ((10, 10, 16), (6, 32))
    """
    cleaned = str(text).strip().strip("()[]").strip()
    if not cleaned:
        raise UsageError("type the output shape first, e.g. 12 x 12 x 8")
    parts = [part for part in re.split(r"\s*(?:[x×*,]|\s)\s*", cleaned, flags=re.IGNORECASE) if part]
    if parts and parts[0].lower() == "none":  # Keras writes the batch axis as None
        parts = parts[1:]
    if not parts or not all(part.isdigit() for part in parts):
        raise UsageError(f"type the shape as whole numbers separated by x or commas, e.g. 12 x 12 x 8; got {text!r}")
    return tuple(int(part) for part in parts)


def parse_count(text: str) -> int:
    """A typed parameter count: ``"1216"``, ``"1,216"``, ``"1 216"`` or ``"1_216"``.

    Raises:
        UsageError: nothing typed, or not a whole number.

    Example:
        >>> parse_count("64,032")
        64032
    """
    cleaned = re.sub(r"[\s,_']", "", str(text))
    if not cleaned:
        raise UsageError("type the parameter count first, e.g. 448")
    if not cleaned.isdigit():
        raise UsageError(f"type the parameter count as a whole number, e.g. 448; got {text!r}")
    return int(cleaned)


@dataclasses.dataclass(frozen=True)
class LayerVerdict:
    """The check of one layer's prediction.

    Attributes:
        shape_right, count_right: whether each part is right (False when it could not be read).
        shape_message, count_message: one line each: "right" or what was wrong.
    """

    shape_right: bool
    count_right: bool
    shape_message: str
    count_message: str

    @property
    def right(self) -> bool:
        """Both parts right."""
        return self.shape_right and self.count_right


def _axis_mistake(predicted: int, size: int, layer: ConvLayer) -> str:
    """Which term of n_out = floor((N + 2p - F) / S) + 1 a wrong axis length got wrong."""
    kernel, stride, padding = layer.kernel_size, layer.stride, layer.padding
    travel = size + 2 * padding - kernel
    if predicted == travel // stride:
        return "you left out the + 1: the window's first position counts too, (N + 2p − F)/S + 1"
    if predicted == size and padding == 0:
        return (
            f"a window of {kernel} without padding cannot be centred on the border pixels: the length "
            f"shrinks by F − 1 = {kernel - 1}"
        )
    if stride > 1 and predicted == travel + 1:
        return f"divide the distance the window travels, N + 2p − F, by the stride S = {stride} before adding 1"
    if padding and predicted == size - kernel + 1:
        return f"the padding adds 2p = {2 * padding} to the length: p zeros on each side"
    if padding and predicted == size + padding - kernel + 1:
        return f"p = {padding} zeros go on each side of the axis, so the length grows by 2p, not p"
    if predicted == size + kernel - 1:
        return "the window makes the output shorter, not longer: N − F, not N + F"
    if stride > 1 and predicted == math.ceil(travel / stride) + 1:
        return "round down: a window that would hang over the end is dropped, ⌊(N + 2p − F)/S⌋ + 1"
    return (
        f"along each axis count the positions the window fits, ⌊(N + 2p − F)/S⌋ + 1 with N = {size}, "
        f"F = {kernel}, p = {padding}, S = {stride}"
    )


def _shape_verdict(model: ConvModel, index: int, predicted: tuple[int, ...]) -> tuple[bool, str]:
    layer, source = model.layers[index], model.layer_input(index)
    expected, _ = model.expected(index)
    if predicted == expected:
        return True, f"shape {_shape_text(predicted)}: right"
    rank = model.rank
    if len(predicted) != len(expected):
        return False, (
            f"a {rank}-D convolution keeps the {rank} {'axis' if rank == 1 else 'axes'} it slides along "
            f"and adds one for the channels: {rank + 1} numbers, you typed {len(predicted)}"
        )
    if predicted[-1] != expected[-1]:
        if predicted[-1] == source[-1]:
            return False, (
                f"the last number is the number of filters ({layer.filters}), not the input's "
                f"{source[-1]} channels: each filter gives one output channel"
            )
        return False, f"the last number is the number of filters ({layer.filters})"
    reasons = []
    for axis, (length, size) in enumerate(zip(predicted[:-1], source[:-1])):
        if length != expected[axis]:
            reason = _axis_mistake(length, size, layer)
            if reason not in reasons:
                reasons.append(reason)
    return False, "; ".join(reasons)


def _count_verdict(model: ConvModel, index: int, predicted: int) -> tuple[bool, str]:
    layer, source = model.layers[index], model.layer_input(index)
    expected_shape, expected = model.expected(index)
    kernel, rank, channels_in, filters = layer.kernel_size, model.rank, source[-1], layer.filters
    if predicted == expected:
        return True, f"{predicted:,} parameters: right"
    weights = kernel**rank * channels_in
    positions = math.prod(expected_shape[:-1])
    if predicted == weights * filters:
        return False, f"you left out the biases: one per filter, + {filters}"
    if predicted == weights * filters + 1:
        return False, "each filter has its own bias: + C_out, not + 1"
    if channels_in > 1 and predicted in ((kernel**rank + 1) * filters, kernel**rank * filters):
        return False, (
            f"each filter spans all {channels_in} input channels: F^{rank} · C_in = "
            f"{kernel**rank} · {channels_in} weights per filter"
        )
    for power in range(1, 4):
        if power != rank and predicted in (
            (kernel**power * channels_in + 1) * filters,
            kernel**power * channels_in * filters,
        ):
            return False, (
                f"a {rank}-D filter of size {kernel} has F^{rank} = {kernel**rank} positions "
                f"(you used F^{power} = {kernel**power})"
            )
    if predicted == weights + 1:
        return False, f"that is one filter: multiply by the number of filters, C_out = {filters}"
    if positions > 1 and predicted in (expected * positions, weights * filters * positions):
        return False, (
            "the weights are shared by every position: the count does not depend on the input's "
            "size, so do not multiply by the number of output positions"
        )
    return False, (f"(F^d · C_in + 1) · C_out with F = {kernel}, d = {rank}, C_in = {channels_in}, C_out = {filters}")


def check_prediction(model: ConvModel, index: int, shape_text: str, count_text: str) -> LayerVerdict:
    """Check a learner's prediction of layer ``index`` of ``model``.

    Args:
        model: the model (e.g. ``LECTURE_MODELS["1d"]``).
        index: which layer (0 for the first).
        shape_text: the typed output shape ("10 x 16").
        count_text: the typed parameter count ("96").

    Returns:
        A :class:`LayerVerdict`; a part that could not be read is wrong, its message saying how to type it.

    Example:
        >>> check_prediction(LECTURE_MODELS["1d"], 0, "11 x 16", "80").count_message
        'you left out the biases: one per filter, + 16'
    """
    if not 0 <= index < len(model.layers):
        raise UsageError(f"{model.title} has {len(model.layers)} layer(s); asked for layer {index + 1}")
    try:
        shape_right, shape_message = _shape_verdict(model, index, parse_shape(shape_text))
    except UsageError as error:
        shape_right, shape_message = False, str(error)
    try:
        count_right, count_message = _count_verdict(model, index, parse_count(count_text))
    except UsageError as error:
        count_right, count_message = False, str(error)
    return LayerVerdict(shape_right, count_right, shape_message, count_message)


@dataclasses.dataclass(frozen=True)
class KerasResult:
    """What Keras says about a model it built.

    Attributes:
        shapes: each layer's output shape, without the batch axis.
        counts: each layer's parameter count.
        summary: the text of ``model.summary()``.
    """

    shapes: tuple[tuple[int, ...], ...]
    counts: tuple[int, ...]
    summary: str


def _no_display():
    """A context that keeps what is displayed inside it out of the cell's output (inside IPython)."""
    try:
        from IPython.utils.capture import capture_output  # deferred: IPython is only needed in a kernel
    except ImportError:  # pragma: no cover - IPython is a requirement
        return contextlib.nullcontext()
    return capture_output(stdout=False, stderr=False, display=True)


def keras_confirms(model: ConvModel) -> KerasResult:
    """Build ``model`` with Keras (``keras.Sequential`` of ``ConvND`` layers) and read its shapes and counts."""
    import keras  # deferred: Keras imports TensorFlow

    convolution = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D, 3: keras.layers.Conv3D}[model.rank]
    padding = {1: keras.layers.ZeroPadding1D, 2: keras.layers.ZeroPadding2D, 3: keras.layers.ZeroPadding3D}[model.rank]
    layers, convolutions = [keras.Input(model.input_shape)], []
    for number, layer in enumerate(model.layers, start=1):
        if layer.padding:
            layers.append(padding(layer.padding))
        convolutions.append(
            convolution(layer.filters, layer.kernel_size, strides=layer.stride, name=f"conv{model.rank}d_layer{number}")
        )
        layers.append(convolutions[-1])
    built = keras.Sequential(layers, name=f"lecture_{model.key}")
    printed = []
    with _no_display():  # inside a kernel, Keras' summary would also display itself as HTML
        built.summary(print_fn=lambda text, line_break=True: printed.append(text))
    return KerasResult(
        tuple(tuple(int(size) for size in layer.output.shape[1:]) for layer in convolutions),
        tuple(int(layer.count_params()) for layer in convolutions),
        "\n".join(printed),
    )


class PredictionControl(ipywidgets.VBox):
    """Predict each layer's output shape and parameter count, check, then let Keras build the model.

    Args:
        model: what to predict (one of :data:`LECTURE_MODELS`, or any :class:`ConvModel`).

    Attributes:
        shape_boxes, count_boxes: one text box each per layer.
        messages: one :class:`utils.widgets.MessageLine` per layer (the check's verdict).
        check_button: "Check, then let Keras build it".
        result: an HTML table: your numbers beside Keras' (empty until a check).
        verdicts: the last check's :class:`LayerVerdict` per layer (empty before).
        keras_result: the :class:`KerasResult` (None until every layer was predicted and checked).

    Example:
        >>> control = PredictionControl(LECTURE_MODELS["2d"])
        >>> control.predict(0, "10 x 10 x 16", "1,216")
        >>> control.check()           # doctest: +SKIP
        >>> control.messages[0].text  # doctest: +SKIP
        '10 × 10 × 16 and 1,216 parameters: right.'
    """

    def __init__(self, model: ConvModel):
        self.model = model
        # continuous_update=False: a box sends its value when it loses focus, which pressing the button
        # does first, so the check always sees what was typed last
        self.shape_boxes = [
            ipywidgets.Text(
                placeholder="e.g. 12 x 12 x 8",
                description="shape",
                continuous_update=False,
                layout=ipywidgets.Layout(width="230px"),
            )
            for _ in model.layers
        ]
        self.count_boxes = [
            ipywidgets.Text(
                placeholder="e.g. 448",
                description="parameters",
                continuous_update=False,
                style={"description_width": "80px"},
                layout=ipywidgets.Layout(width="210px"),
            )
            for _ in model.layers
        ]
        self.messages = [MessageLine() for _ in model.layers]
        self.check_button = ipywidgets.Button(
            description="Check, then let Keras build it",
            button_style="primary",
            layout=ipywidgets.Layout(width="260px"),
        )
        self.status = MessageLine()
        self.result = ipywidgets.HTML()
        self.verdicts: list[LayerVerdict] = []
        self.keras_result: KerasResult | None = None
        rows = []
        for index in range(len(model.layers)):
            rows.append(ipywidgets.HTML(html.escape(model.describe(index))))
            rows.append(ipywidgets.HBox([self.shape_boxes[index], self.count_boxes[index]]))
            rows.append(self.messages[index])
        title = ipywidgets.HTML(
            f"<b>{html.escape(model.title)}</b>: input {html.escape(_shape_text(model.input_shape))}"
        )
        super().__init__([title, *rows, ipywidgets.HBox([self.check_button, self.status]), self.result])
        self.check_button.on_click(lambda _button: self.check())

    def predict(self, index: int, shape_text: str, count_text: str) -> None:
        """Type a prediction for layer ``index`` (as a learner would in the boxes)."""
        self.shape_boxes[index].value = str(shape_text)
        self.count_boxes[index].value = str(count_text)

    def check(self) -> None:
        """Check every layer's prediction; once every layer is predicted, let Keras build the model."""
        empty = [
            index + 1
            for index in range(len(self.model.layers))
            if not self.shape_boxes[index].value.strip() or not self.count_boxes[index].value.strip()
        ]
        self.verdicts = []
        for index, message in enumerate(self.messages):
            if index + 1 in empty:
                message.info("type this layer's shape and parameter count first")
                continue
            verdict = check_prediction(self.model, index, self.shape_boxes[index].value, self.count_boxes[index].value)
            self.verdicts.append(verdict)
            if verdict.right:
                message.success(
                    f"{verdict.shape_message.removeprefix('shape ').removesuffix(': right')} and "
                    f"{verdict.count_message.removesuffix(': right')}: right."
                )
            else:
                message.error(
                    " · ".join(
                        [
                            verdict.shape_message if verdict.shape_right else f"shape: {verdict.shape_message}",
                            verdict.count_message if verdict.count_right else f"parameters: {verdict.count_message}",
                        ]
                    )
                )
        if empty:
            self.status.info(
                f"predict every layer first (layer{'s' if len(empty) > 1 else ''} "
                f"{', '.join(map(str, empty))} still empty), then Keras builds the model"
            )
            return
        try:
            self.keras_result = keras_confirms(self.model)
        except Exception as error:  # Keras failing to build is shown as one line, never a traceback
            self.status.error(error)
            return
        right = sum(verdict.right for verdict in self.verdicts)
        self.status.success(f"Keras built it: {right} of {len(self.verdicts)} layer(s) predicted right")
        self.result.value = self._table()

    def _table(self) -> str:
        cells = []
        for index, (shape, count) in enumerate(zip(self.keras_result.shapes, self.keras_result.counts)):
            cells.append(
                f"<tr><td>{index + 1}</td><td>{html.escape(self.shape_boxes[index].value)}</td>"
                f"<td>{html.escape(_shape_text(shape))}</td><td>{html.escape(self.count_boxes[index].value)}"
                f"</td><td>{count:,}</td></tr>"
            )
        return (
            '<table class="course-prediction"><tr><th>layer</th><th>your shape</th><th>Keras\' output shape'
            "</th><th>your parameters</th><th>Keras' count_params()</th></tr>" + "".join(cells) + "</table>"
            f"<details><summary>model.summary()</summary><pre>{html.escape(self.keras_result.summary)}</pre>"
            "</details>"
        )

    def summary(self) -> str:
        """The control as text, for a run without a front end: Keras' numbers, and a request to predict first."""
        keras_result = self.keras_result or keras_confirms(self.model)
        lines = [
            f"{self.model.title}: input {_shape_text(self.model.input_shape)}. Predict first: type each "
            f"layer's output shape and parameter count, press Check, then Keras builds the model."
        ]
        for index, (shape, count) in enumerate(zip(keras_result.shapes, keras_result.counts)):
            lines.append(f"  {self.model.describe(index)} -> Keras: {_shape_text(shape)}, {count:,} parameters")
        return "\n".join(lines)
