"""What a trained convnet's units respond to: their top image patches, and the images they like best.

Two complementary views of a unit (one channel of a layer):

* **Top patches** (Zeiler & Fergus): for every image of a collection and every unit we record the
  unit's strongest activation and where it happened (:func:`activation_maxima`, one pass over the
  images in batches, kept in memory). For a unit, the images with the largest maxima are its top
  images, and the receptive field of the winning position
  (:class:`utils.convnets.arithmetic.ReceptiveField`) tells which pixels the unit saw there: those
  are its top patches (:func:`top_patches`). Taking at most one patch per image keeps the nine
  patches from being near-copies of each other. :func:`utils.plotting.show_unit_patches` draws
  them.
* **Feature visualisation** (:func:`visualize_units`): synthesise the input that excites a unit
  most, by gradient ascent. Starting from gray noise, the image is changed step by step in the
  direction that increases the unit's mean activation. Unregularised, this produces
  high-frequency noise that the unit likes but nobody can read; four standard regularisers make
  the result readable:

  - *jitter* — shift the image by a few random pixels before every step, so the pattern must work
    at every offset instead of exploiting one pixel grid;
  - *decay and blur* — pull the image towards gray a little every step and blur it every few
    steps, which removes the highest frequencies;
  - *total variation* — a penalty on differences between neighbouring pixels;
  - *multi-scale (octaves)* — optimise a small image first, then upscale it and continue, so
    large structures form before the fine detail.

  All units are optimised together, one image per unit, in one batch.

A "model" here is any callable that maps a float32 batch ``(n, H, W, 3)`` to ``{layer: (n, h, w,
c)}`` (or to that one array): a ``keras.Model`` such as ``utils.nst.build_extractor(...)``, or a
plain function, as in the example.

Example:
    >>> def colour_units(batch):          # a stand-in model: unit 0 = red, unit 1 = green, 1x1 fields
    ...     return {"pixels": batch[..., :2]}
    >>> images = np.zeros((3, 8, 8, 3), np.uint8)
    >>> images[2, 5, 1, 0] = 255          # the reddest pixel: image 2, row 5, column 1
    >>> maxima = activation_maxima(colour_units, images, ["pixels"], progress=False)
    >>> field = ReceptiveField("pixels", size=(3, 3), jump=(1, 1), start=(0.0, 0.0))
    >>> found = top_patches(maxima["pixels"], images, field, unit=0, top_k=1)
    >>> found.image_indices.tolist(), found.boxes[0], found.field_size
    ([2], ((4, 7), (0, 3)), (3, 3))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from utils.convnets.arithmetic import ReceptiveField
from utils.errors import UsageError
from utils.image_io import load_image, resize
from utils.plotting import save_figure

#: Gray value of the pixels of a patch that lie outside the image (the layer's zero padding).
OUTSIDE_FILL = 128


# Top patches
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class LayerMaxima:
    """Per-image, per-unit strongest activation of one layer and where it happened.

    Attributes:
        layer: layer name.
        values: float32 ``(n_images, n_units)``: each unit's largest activation in each image.
        positions: int32 ``(n_images, n_units, 2)``: (row, column) of that activation in the layer's
            feature map.
        feature_shape: (rows, columns) of the layer's feature map.
    """

    layer: str
    values: np.ndarray
    positions: np.ndarray
    feature_shape: tuple[int, int]

    @property
    def n_units(self) -> int:
        """Number of units (channels) of the layer."""
        return self.values.shape[1]


@dataclasses.dataclass
class UnitPatches:
    """The top patches of one unit (what :func:`top_patches` returns).

    Attributes:
        layer, unit: which unit.
        scores: its activation for each patch, strongest first.
        image_indices: which image of the collection each patch comes from.
        positions: (row, column) of the unit in the feature map.
        boxes: ((top, bottom), (left, right)) pixel ranges of each patch (may extend past the image).
        patches: uint8 arrays, each the receptive field's size (outside the image filled with gray).
    """

    layer: str
    unit: int
    scores: np.ndarray
    image_indices: np.ndarray
    positions: np.ndarray
    boxes: list
    patches: list

    @property
    def field_size(self) -> tuple[int, ...]:
        """Receptive-field size in pixels per axis (the size of every patch); ``()`` without patches."""
        if not self.boxes:
            return ()
        return tuple(stop - first for first, stop in self.boxes[0])


def activation_maxima(
    model: Callable,
    images: np.ndarray,
    layers: Sequence[str],
    batch_size: int = 16,
    prepare: Callable | None = None,
    progress: bool = True,
) -> dict[str, LayerMaxima]:
    """Run all images through ``model`` once and keep each unit's per-image maximum and its position.

    Args:
        model: a callable (e.g. a ``keras.Model``) mapping a float32 batch ``(b, H, W, 3)`` to a dict
            ``{layer name: (b, h, w, c)}`` or, for a single layer, to that array.
        images: uint8 ``(n, H, W, 3)`` images of one size.
        layers: the layer names to record (keys of the model's output dict).
        batch_size: images per forward pass.
        prepare: maps a uint8 batch to the model's input (default: float32 in [0, 1]).
        progress: show a tqdm progress bar.

    Returns:
        ``{layer: LayerMaxima}``.

    Raises:
        UsageError: (a ``ValueError``) images that are not ``(n, H, W, 3)``, no layers, or a layer
            the model does not output.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise UsageError(f"images must be (n, H, W, 3); got shape {images.shape}")
    if not layers:
        raise UsageError("give at least one layer name")
    prepare = prepare or (lambda batch: batch.astype(np.float32) / 255.0)
    values = {layer: [] for layer in layers}
    positions = {layer: [] for layer in layers}
    shapes = {}
    for start in tqdm(range(0, len(images), batch_size), desc="activations", disable=not progress):
        outputs = model(prepare(images[start : start + batch_size]))
        if not isinstance(outputs, dict):
            if len(layers) != 1:
                raise UsageError("the model returns one array; give exactly one layer name")
            outputs = {layers[0]: outputs}
        for layer in layers:
            if layer not in outputs:
                raise UsageError(f"the model has no output named {layer!r}; it has {sorted(outputs)}")
            activation = np.asarray(outputs[layer], dtype=np.float32)
            batch, rows, columns, units = activation.shape
            flat = activation.reshape(batch, rows * columns, units)
            best = flat.argmax(axis=1)
            values[layer].append(np.take_along_axis(flat, best[:, None, :], axis=1)[:, 0, :])
            positions[layer].append(np.stack([best // columns, best % columns], axis=-1).astype(np.int32))
            shapes[layer] = (rows, columns)
    return {
        layer: LayerMaxima(layer, np.concatenate(values[layer]), np.concatenate(positions[layer]), shapes[layer])
        for layer in layers
    }


def crop_box(image: np.ndarray, box, fill: int = OUTSIDE_FILL) -> np.ndarray:
    """Cut ``box`` = ((top, bottom), (left, right)) out of ``image``; pixels outside become ``fill``.

    Example:
        >>> crop_box(np.zeros((4, 4, 3), np.uint8), ((-1, 2), (2, 5)))[:, :, 0].tolist()
        [[128, 128, 128], [0, 0, 128], [0, 0, 128]]
    """
    (top, bottom), (left, right) = box
    patch = np.full((bottom - top, right - left, image.shape[2]), fill, dtype=image.dtype)
    inside_top, inside_left = max(top, 0), max(left, 0)
    inside_bottom, inside_right = min(bottom, image.shape[0]), min(right, image.shape[1])
    if inside_bottom > inside_top and inside_right > inside_left:
        patch[inside_top - top : inside_bottom - top, inside_left - left : inside_right - left] = image[
            inside_top:inside_bottom, inside_left:inside_right
        ]
    return patch


def top_patches(
    maxima: LayerMaxima, images: np.ndarray, field: ReceptiveField, unit: int, top_k: int = 9
) -> UnitPatches:
    """The ``top_k`` receptive-field patches (one per image) that activate ``unit`` most.

    Args:
        maxima: the layer's :class:`LayerMaxima` (from :func:`activation_maxima` on ``images``).
        images: the same uint8 images.
        field: the layer's :class:`~utils.convnets.arithmetic.ReceptiveField`.
        unit: channel index.
        top_k: number of patches.

    Returns:
        A :class:`UnitPatches`.
    """
    if not 0 <= unit < maxima.n_units:
        raise UsageError(f"unit must be in [0, {maxima.n_units}) for layer {maxima.layer}; got {unit}")
    if len(images) != len(maxima.values):
        raise UsageError(f"maxima were computed on {len(maxima.values)} images but {len(images)} were given")
    order = np.argsort(-maxima.values[:, unit], kind="stable")[:top_k]
    positions = maxima.positions[order, unit]
    boxes = [field.box(tuple(position)) for position in positions]
    patches = [crop_box(images[index], box) for index, box in zip(order, boxes)]
    return UnitPatches(maxima.layer, unit, maxima.values[order, unit], order, positions, boxes, patches)


def pick_units(maxima: LayerMaxima, count: int, seed: int = 0) -> list[int]:
    """Choose ``count`` units at random among those that respond to the collection.

    A unit counts as responding when its strongest activation over all images is positive; dead
    units (always zero after the ReLU) would show nine arbitrary patches.

    Example:
        >>> maxima = LayerMaxima("conv", np.array([[0.0, 1.0, 0.0, 2.0]], np.float32),
        ...                      np.zeros((1, 4, 2), np.int32), (1, 1))
        >>> pick_units(maxima, 5)                     # units 0 and 2 never fire
        [1, 3]
    """
    alive = np.flatnonzero(maxima.values.max(axis=0) > 0)
    if len(alive) == 0:
        raise UsageError(f"no unit of layer {maxima.layer} is ever active on these images")
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(alive, size=min(count, len(alive)), replace=False).tolist())


def load_collection(
    paths: Sequence, size: int, crops_per_image: int = 1, seed: int = 0, progress: bool = True
) -> np.ndarray:
    """Load images as one uint8 ``(n, size, size, 3)`` array: a centre crop, plus random crops.

    The first crop of every image is its largest centred square; each further crop is a random
    square of 40-80 % of the short side, so a handful of paintings yields many different views.

    Args:
        paths: image files.
        size: output edge length.
        crops_per_image: crops taken from every image.
        seed: seed of the random crops.
        progress: show a tqdm progress bar.

    Returns:
        uint8 ``(len(paths) * crops_per_image, size, size, 3)``.
    """
    rng = np.random.default_rng(seed)
    images = []
    for path in tqdm(list(paths), desc="images", disable=not progress):
        image = load_image(Path(path))
        height, width = image.shape[:2]
        short = min(height, width)
        for crop in range(crops_per_image):
            if crop == 0:
                side, top, left = short, (height - short) // 2, (width - short) // 2
            else:
                side = int(short * rng.uniform(0.4, 0.8))
                top = int(rng.integers(0, height - side + 1))
                left = int(rng.integers(0, width - side + 1))
            images.append(resize(image[top : top + side, left : left + side], (size, size)))
    if not images:
        raise UsageError("no images were given")
    return np.stack(images)


# Feature visualisation
# ----------------------------------------------------------------------------------------------


def _gaussian_blur(images, sigma: float):
    """Blur a float batch ``(n, H, W, C)`` with a separable Gaussian (reflecting the borders)."""
    import tensorflow as tf  # deferred: TensorFlow is slow to import

    radius = max(1, int(round(2 * sigma)))
    offsets = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    channels = images.shape[-1]
    horizontal = np.tile(kernel[None, :, None, None], (1, 1, channels, 1))
    vertical = np.tile(kernel[:, None, None, None], (1, 1, channels, 1))
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    blurred = tf.nn.depthwise_conv2d(padded, horizontal, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(blurred, vertical, [1, 1, 1, 1], "VALID")


def visualize_units(
    model: Callable,
    layer: str,
    units: Sequence[int],
    size: int = 96,
    steps: int = 64,
    octaves: int = 2,
    octave_scale: float = 1.6,
    learning_rate: float = 0.05,
    jitter: int = 4,
    decay: float = 0.002,
    blur_every: int = 4,
    blur_sigma: float = 0.6,
    tv_weight: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> np.ndarray:
    """Gradient ascent on the input for each unit; returns one uint8 image per unit.

    Args:
        model: maps a float32 batch of RGB images in [0, 1] ``(n, H, W, 3)`` to a dict
            ``{layer: (n, h, w, c)}`` (e.g. ``utils.nst.build_extractor([layer])``) or to that array.
        layer: the layer whose units are visualised.
        units: channel indices; image ``i`` is optimised for ``units[i]``.
        size: final image size in pixels.
        steps: gradient steps per octave.
        octaves: number of scales; the first is ``size / octave_scale**(octaves - 1)``.
        octave_scale: size ratio between consecutive octaves.
        learning_rate: step size on the gradient normalised to unit standard deviation.
        jitter: largest random shift in pixels (0 turns jitter off).
        decay: fraction by which the image is pulled towards gray every step.
        blur_every: blur the image every this many steps (0 turns blurring off).
        blur_sigma: standard deviation of that blur in pixels.
        tv_weight: weight of the total-variation penalty.
        seed: seed of the start noise and the jitter.
        progress: show a tqdm progress bar.

    Returns:
        uint8 ``(len(units), size, size, 3)``.

    Raises:
        UsageError: (a ``ValueError``) no units, a unit the layer does not have, or sizes too small.

    Example:
        >>> images = visualize_units(extractor, "block3_conv1", units=[3, 17], size=64, steps=20)  # doctest: +SKIP
        >>> images.shape                                                                          # doctest: +SKIP
        (2, 64, 64, 3)
    """
    import tensorflow as tf  # deferred: TensorFlow is slow to import

    units = [int(unit) for unit in units]
    if not units:
        raise UsageError("give at least one unit")
    if size < 16 or steps < 1 or octaves < 1:
        raise UsageError(f"need size >= 16, steps >= 1 and octaves >= 1; got {size}, {steps}, {octaves}")
    rng = np.random.default_rng(seed)
    sizes = [max(16, int(round(size / octave_scale ** (octaves - 1 - octave)))) for octave in range(octaves)]
    images = tf.constant(0.5 + 0.02 * rng.standard_normal((len(units), sizes[0], sizes[0], 3)), tf.float32)
    unit_index = tf.constant(units, tf.int32)

    def layer_output(batch):
        outputs = model(batch)
        return outputs[layer] if isinstance(outputs, dict) else outputs

    # check the units eagerly: an error raised while tf.function traces would come out as a StagingError
    available = int(layer_output(images[:1]).shape[-1])
    if not all(0 <= unit < available for unit in units):
        raise UsageError(f"layer {layer} has {available} units (0 to {available - 1}); asked for units {units}")

    def activation(batch):
        features = layer_output(batch)
        per_unit = tf.gather(tf.transpose(features, [0, 3, 1, 2]), unit_index, axis=1, batch_dims=1)
        return tf.reduce_mean(per_unit, axis=[1, 2])

    @tf.function
    def step(batch, shift_y, shift_x):
        with tf.GradientTape() as tape:
            tape.watch(batch)
            shifted = tf.roll(batch, shift=[shift_y, shift_x], axis=[1, 2])
            objective = tf.reduce_sum(activation(shifted))
            if tv_weight:
                objective -= tv_weight * tf.reduce_sum(tf.image.total_variation(batch)) / float(size * size)
        gradient = tape.gradient(objective, batch)
        gradient /= tf.math.reduce_std(gradient, axis=[1, 2, 3], keepdims=True) + 1e-8
        return batch + learning_rate * gradient

    with tqdm(total=steps * octaves, desc=f"visualising {layer}", disable=not progress) as bar:
        for octave, octave_size in enumerate(sizes):
            if octave:
                images = tf.image.resize(images, (octave_size, octave_size), method="bicubic")
            for index in range(steps):
                shift_y, shift_x = rng.integers(-jitter, jitter + 1, size=2) if jitter else (0, 0)
                images = step(images, tf.constant(int(shift_y)), tf.constant(int(shift_x)))
                images = 0.5 + (images - 0.5) * (1.0 - decay)
                if blur_every and (index + 1) % blur_every == 0 and index + 1 < steps:
                    images = _gaussian_blur(images, blur_sigma)
                images = tf.clip_by_value(images, 0.0, 1.0)
                bar.update(1)
    return np.round(images.numpy() * 255.0).astype(np.uint8)


def unit_activations(model: Callable, layer: str, images: np.ndarray, units: Sequence[int]) -> np.ndarray:
    """Mean activation of ``units[i]`` on ``images[i]`` (uint8 or [0, 1] float), to compare images.

    Example:
        >>> def brightness(batch):            # a stand-in model: one unit, the red channel
        ...     return {"red": batch[..., :1]}
        >>> unit_activations(brightness, "red", np.full((2, 4, 4, 3), 51, np.uint8), [0, 0])
        array([0.2, 0.2], dtype=float32)
    """
    images = np.asarray(images)
    batch = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    outputs = model(batch)
    features = np.asarray(outputs[layer] if isinstance(outputs, dict) else outputs)
    return np.array([features[index, :, :, unit].mean() for index, unit in enumerate(units)], dtype=np.float32)


# Comparison charts
# ----------------------------------------------------------------------------------------------


def plot_grouped_bars(
    values: dict[str, dict[str, float]], ylabel: str, title: str | None = None, value_format: str = "{:.2f}", path=None
):
    """Grouped bar chart: one bar per series in every group, each bar labelled with its value.

    Used where a comparison is the point of a results table: a Conv1D against a dense network per
    ECG finding (notebook 06), the activations of regularised and plain feature visualisations
    against the best real image per unit (notebook 05).

    Args:
        values: ``{series: {group: value}}``; every series must have the same groups (the first
            series' order is kept).
        ylabel: label of the value axis.
        title: the axes' title (optional).
        value_format: how the value printed above each bar is formatted.
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``.

    Raises:
        UsageError: no series, no groups, or series with different groups.

    Example:
        >>> figure = plot_grouped_bars({"conv": {"normal": 0.9, "wide": 0.8},
        ...                             "dense": {"normal": 0.6, "wide": 0.5}}, ylabel="accuracy")
        >>> [text.get_text() for text in figure.axes[0].texts]
        ['0.90', '0.80', '0.60', '0.50']
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if not values:
        raise UsageError("plot_grouped_bars needs at least one series")
    groups = list(next(iter(values.values())))
    if not groups:
        raise UsageError("plot_grouped_bars needs at least one group")
    for series, by_group in values.items():
        if set(by_group) != set(groups):
            raise UsageError(f"series {series!r} has groups {sorted(by_group)}; expected {sorted(groups)}")
    width = 0.8 / len(values)
    figure, axis = plt.subplots(figsize=(max(5.0, 1.2 * len(groups) * max(1, len(values) / 2) + 1.5), 3.6))
    positions = np.arange(len(groups))
    for index, (series, by_group) in enumerate(values.items()):
        heights = [float(by_group[group]) for group in groups]
        offsets = positions + (index - (len(values) - 1) / 2) * width
        axis.bar(offsets, heights, width, label=series)
        for offset, height in zip(offsets, heights):
            axis.text(offset, height, value_format.format(height), ha="center", va="bottom", fontsize=8)
    axis.set_xticks(positions, groups, rotation=15 if len(groups) > 4 else 0)
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    axis.legend(fontsize=8)
    axis.margins(y=0.15)
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_signal_examples(dataset, kinds: Sequence[str], path=None):
    """The first strip of each kind of a generated signal data set, one panel per kind, in seconds.

    Args:
        dataset: a 1-D :class:`utils.convnets.synthetic.SyntheticDataset` (``inputs`` of shape
            ``(n, length, 1)``, ``kinds``, ``labels``, ``info["sampling_rate"]`` in samples per second).
        kinds: the kinds to show, in order (each must occur in ``dataset.kinds``).
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``, one axis per kind, titled "<kind> (label <label>)".

    Raises:
        UsageError: no kind, or a kind the data set does not hold.

    Example:
        >>> from utils.convnets.synthetic import make_ecg_dataset
        >>> figure = plot_signal_examples(make_ecg_dataset(20, seed=1), ["normal"])
        >>> figure.axes[0].get_title(loc="left"), figure.axes[0].get_xlabel()
        ('normal (label 0)', 'time (s)')
        >>> from utils.plotting import close
        >>> close(figure)
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    missing = [kind for kind in kinds if not np.any(dataset.kinds == kind)]
    if not kinds or missing:
        raise UsageError(f"plot_signal_examples needs kinds the data set holds; missing: {missing or 'no kind given'}")
    seconds = np.arange(dataset.inputs.shape[1]) / dataset.info["sampling_rate"]
    figure, axes = plt.subplots(len(kinds), 1, figsize=(12, 2.0 * len(kinds)), sharex=True, squeeze=False)
    for axis, kind in zip(axes[:, 0], kinds):
        index = int(np.flatnonzero(dataset.kinds == kind)[0])
        axis.plot(seconds, dataset.inputs[index, :, 0], linewidth=1)
        axis.set_title(f"{kind} (label {dataset.labels[index]})", loc="left", fontsize=10)
        axis.set_ylabel("mV")
    axes[-1, 0].set_xlabel("time (s)")
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_learning_curves(histories: dict, path=None):
    """Training and validation loss, and validation accuracy, per epoch of several Keras runs.

    Args:
        histories: ``{name: history}``, each a ``keras.callbacks.History`` or its ``history`` dict
            with ``loss``, ``val_loss`` and ``val_accuracy`` per epoch (``model.fit`` with a
            validation split and ``metrics=["accuracy"]``).
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``: the losses on ``axes[0]`` (validation dashed), the validation
        accuracies on ``axes[1]``.

    Raises:
        UsageError: no history, or one without those three series.

    Example:
        >>> run = {"loss": [0.7, 0.4], "val_loss": [0.6, 0.5], "val_accuracy": [0.6, 0.8]}
        >>> figure = plot_learning_curves({"conv": run})
        >>> [line.get_label() for line in figure.axes[0].lines]
        ['conv train', 'conv validation']
        >>> from utils.plotting import close
        >>> close(figure)
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    series = {name: getattr(history, "history", history) for name, history in histories.items()}
    lacking = [name for name, values in series.items() if not {"loss", "val_loss", "val_accuracy"} <= set(values)]
    if not series or lacking:
        raise UsageError(
            f"plot_learning_curves needs histories with loss, val_loss and val_accuracy; "
            f"{'none given' if not series else 'lacking in ' + ', '.join(lacking)}"
        )
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 3.5))
    for index, (name, values) in enumerate(series.items()):
        colour = f"C{index % 10}"
        loss_axis.plot(values["loss"], color=colour, label=f"{name} train")
        loss_axis.plot(values["val_loss"], "--", color=colour, label=f"{name} validation")
        accuracy_axis.plot(values["val_accuracy"], color=colour, label=f"{name} validation")
    loss_axis.set_title("loss")
    accuracy_axis.set_title("validation accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.set_xlabel("epoch")
        axis.legend(fontsize=8)
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def show_volume_slices(dataset, path=None):
    """Slices through the first volume without a blob and the first with one, the blob's slice circled.

    Args:
        dataset: a 3-D :class:`utils.convnets.synthetic.SyntheticDataset` (``inputs`` of shape
            ``(n, D, H, W, 1)``, ``labels`` 1 for a volume with a blob, ``info["blob_centers"]``: per
            volume a list of (z, y, x) centres).
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``: two rows (no blob, one blob) of depth slices, among them the
        blob's centre slice, titled "<row>, z=<depth>" and " (blob)" on the blob's.

    Raises:
        UsageError: the data set lacks a volume with or without a blob.

    Example:
        >>> from utils.convnets.synthetic import make_volume_dataset
        >>> figure = show_volume_slices(make_volume_dataset(6, size=16, max_blobs=1, seed=2))
        >>> sum(axis.get_title().endswith("(blob)") for axis in figure.axes)
        1
        >>> from utils.plotting import close
        >>> close(figure)
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if not (np.any(dataset.labels == 1) and np.any(dataset.labels == 0)):
        raise UsageError("show_volume_slices needs a volume with a blob and one without")
    positive, negative = int(np.flatnonzero(dataset.labels == 1)[0]), int(np.flatnonzero(dataset.labels == 0)[0])
    depth = dataset.inputs.shape[1]
    blob_z, blob_y, blob_x = np.round(dataset.info["blob_centers"][positive][0]).astype(int)
    slices = sorted({*np.linspace(depth / 8, depth - depth / 8, 5).astype(int).tolist(), int(blob_z)})
    figure, axes = plt.subplots(2, len(slices), figsize=(2.2 * len(slices), 4.8), squeeze=False)
    for row, (index, title) in enumerate([(negative, "no blob"), (positive, "one blob")]):
        for column, slice_z in enumerate(slices):
            axes[row, column].imshow(dataset.inputs[index, slice_z, :, :, 0], cmap="gray", vmin=-0.2, vmax=1.3)
            marker = " (blob)" if row == 1 and slice_z == blob_z else ""
            axes[row, column].set_title(f"{title}, z={slice_z}{marker}", fontsize=8)
            axes[row, column].axis("off")
    axes[1, slices.index(int(blob_z))].add_patch(plt.Circle((blob_x, blob_y), 4, fill=False, color="red"))
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure
