"""Zeiler & Fergus' view of a trained network: the image patches that activate a unit most.

For every image of a collection and every channel ("unit") of a layer we record the channel's
strongest activation and where it happened (:func:`activation_maxima`, one pass over the images in
batches, kept in memory). For a unit, the images with the largest maxima are its top images, and
the receptive field of the winning position (:mod:`utils.receptive_field`) tells which pixels the
unit saw there: those are its top patches (:func:`top_patches`), shown as a 3x3 grid
(:func:`patch_grid`). Taking at most one patch per image keeps the nine patches from being
near-copies of each other.

Example:
    >>> maxima = activation_maxima(extractor, images, ["block1_conv2"])          # doctest: +SKIP
    >>> patches = top_patches(maxima["block1_conv2"], images, field, unit=7)     # doctest: +SKIP
    >>> grid = patch_grid(patches.patches)                                       # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from utils.receptive_field import ReceptiveField


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
        return self.values.shape[1]


@dataclasses.dataclass
class UnitPatches:
    """The top patches of one unit.

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


def activation_maxima(model: Callable, images: np.ndarray, layers: Sequence[str], batch_size: int = 16,
                      prepare: Callable | None = None, progress: bool = True) -> dict[str, LayerMaxima]:
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
    """
    from tqdm.auto import tqdm

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (n, H, W, 3); got shape {images.shape}")
    if not layers:
        raise ValueError("give at least one layer name")
    prepare = prepare or (lambda batch: batch.astype(np.float32) / 255.0)
    values = {layer: [] for layer in layers}
    positions = {layer: [] for layer in layers}
    shapes = {}
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc="activations", disable=not progress):
        outputs = model(prepare(images[start:start + batch_size]))
        if not isinstance(outputs, dict):
            if len(layers) != 1:
                raise ValueError("the model returns one array; give exactly one layer name")
            outputs = {layers[0]: outputs}
        for layer in layers:
            if layer not in outputs:
                raise ValueError(f"the model has no output named {layer!r}; it has {sorted(outputs)}")
            activation = np.asarray(outputs[layer], dtype=np.float32)
            batch, rows, columns, units = activation.shape
            flat = activation.reshape(batch, rows * columns, units)
            best = flat.argmax(axis=1)
            values[layer].append(np.take_along_axis(flat, best[:, None, :], axis=1)[:, 0, :])
            positions[layer].append(np.stack([best // columns, best % columns], axis=-1).astype(np.int32))
            shapes[layer] = (rows, columns)
    return {layer: LayerMaxima(layer, np.concatenate(values[layer]), np.concatenate(positions[layer]),
                               shapes[layer]) for layer in layers}


def crop_box(image: np.ndarray, box, fill: int = 128) -> np.ndarray:
    """Cut ``box`` = ((top, bottom), (left, right)) out of ``image``; pixels outside become ``fill``.

    Example:
        >>> crop_box(np.zeros((4, 4, 3), np.uint8), ((-1, 2), (2, 5)))[:, :, 0].tolist()
        [[128, 128, 128], [0, 0, 128], [0, 0, 128]]
    """
    (top, bottom), (left, right) = box
    patch = np.full((bottom - top, right - left, image.shape[2]), fill, dtype=image.dtype)
    source_top, source_left = max(top, 0), max(left, 0)
    source_bottom, source_right = min(bottom, image.shape[0]), min(right, image.shape[1])
    if source_bottom > source_top and source_right > source_left:
        patch[source_top - top:source_bottom - top, source_left - left:source_right - left] = \
            image[source_top:source_bottom, source_left:source_right]
    return patch


def top_patches(maxima: LayerMaxima, images: np.ndarray, field: ReceptiveField, unit: int,
                top_k: int = 9) -> UnitPatches:
    """The ``top_k`` receptive-field patches (one per image) that activate ``unit`` most.

    Args:
        maxima: the layer's :class:`LayerMaxima` (from :func:`activation_maxima` on ``images``).
        images: the same uint8 images.
        field: the layer's :class:`ReceptiveField`.
        unit: channel index.
        top_k: number of patches.

    Returns:
        A :class:`UnitPatches`.
    """
    if not 0 <= unit < maxima.n_units:
        raise ValueError(f"unit must be in [0, {maxima.n_units}) for layer {maxima.layer}; got {unit}")
    if len(images) != len(maxima.values):
        raise ValueError(f"maxima were computed on {len(maxima.values)} images but {len(images)} were given")
    order = np.argsort(-maxima.values[:, unit], kind="stable")[:top_k]
    positions = maxima.positions[order, unit]
    boxes = [field.box(tuple(position)) for position in positions]
    patches = [crop_box(images[index], box) for index, box in zip(order, boxes)]
    return UnitPatches(maxima.layer, unit, maxima.values[order, unit], order, positions, boxes, patches)


def pick_units(maxima: LayerMaxima, count: int, seed: int = 0) -> list[int]:
    """Choose ``count`` units at random among those that respond to the collection.

    A unit counts as responding when its strongest activation over all images is positive; dead
    units (always zero after the ReLU) would show nine arbitrary patches.
    """
    alive = np.flatnonzero(maxima.values.max(axis=0) > 0)
    if len(alive) == 0:
        raise ValueError(f"no unit of layer {maxima.layer} is ever active on these images")
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(alive, size=min(count, len(alive)), replace=False).tolist())


def patch_grid(patches: Sequence[np.ndarray], columns: int = 3, size: int = 48, gap: int = 2) -> np.ndarray:
    """Tile patches (resized to ``size`` x ``size``) into one uint8 image with white gaps.

    Example:
        >>> patch_grid([np.zeros((5, 5, 3), np.uint8)] * 9, size=4, gap=1).shape
        (14, 14, 3)
    """
    from utils.image_io import resize

    if not patches:
        raise ValueError("no patches to tile")
    rows = int(np.ceil(len(patches) / columns))
    grid = np.full((rows * size + (rows - 1) * gap, columns * size + (columns - 1) * gap, 3), 255, np.uint8)
    for index, patch in enumerate(patches):
        row, column = divmod(index, columns)
        tile = resize(np.ascontiguousarray(patch), (size, size))
        grid[row * (size + gap):row * (size + gap) + size, column * (size + gap):column * (size + gap) + size] = tile
    return grid


def load_collection(paths: Sequence, size: int, crops_per_image: int = 1, seed: int = 0,
                    progress: bool = True) -> np.ndarray:
    """Load images as one uint8 ``(n, size, size, 3)`` array: a centre crop, plus random crops.

    The first crop of every image is its largest centred square; each further crop is a random
    square of 40-80 % of the short side, so a handful of paintings yields many different views.

    Args:
        paths: image files.
        size: output edge length.
        crops_per_image: crops taken from every image.
        seed: seed of the random crops.
        progress: show a tqdm progress bar.
    """
    from tqdm.auto import tqdm

    from utils.image_io import load_image, resize

    rng = np.random.default_rng(seed)
    images = []
    for path in tqdm(list(paths), desc="images", disable=not progress):
        image = load_image(Path(path))
        height, width = image.shape[:2]
        short = min(height, width)
        for crop in range(crops_per_image):
            side = short if crop == 0 else int(short * rng.uniform(0.4, 0.8))
            top = (height - side) // 2 if crop == 0 else int(rng.integers(0, height - side + 1))
            left = (width - side) // 2 if crop == 0 else int(rng.integers(0, width - side + 1))
            images.append(resize(image[top:top + side, left:left + side], (size, size)))
    if not images:
        raise ValueError("no images were given")
    return np.stack(images)
