"""Feature visualisation: synthesise the input that excites a unit most, by gradient ascent.

Starting from gray noise, the image is changed step by step in the direction that increases the
unit's mean activation. Unregularised, this produces high-frequency noise that the unit likes but
nobody can read; four standard regularisers make the result readable:

* **jitter** — shift the image by a few random pixels before every step, so the pattern must work
  at every offset instead of exploiting one pixel grid;
* **decay and blur** — pull the image towards gray a little every step and blur it every few
  steps, which removes the highest frequencies;
* **total variation** — a penalty on differences between neighbouring pixels;
* **multi-scale (octaves)** — optimise a small image first, then upscale it and continue, so
  large structures form before the fine detail.

All units are optimised together, one image per unit, in one batch.

Example:
    >>> images = visualize_units(extractor, "block3_conv1", units=[3, 17], size=64, steps=20)   # doctest: +SKIP
    >>> images.shape                                                                           # doctest: +SKIP
    (2, 64, 64, 3)
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def _gaussian_blur(images, sigma: float):
    import tensorflow as tf

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


def visualize_units(model: Callable, layer: str, units: Sequence[int], size: int = 96, steps: int = 64,
                    octaves: int = 2, octave_scale: float = 1.6, learning_rate: float = 0.05,
                    jitter: int = 4, decay: float = 0.002, blur_every: int = 4, blur_sigma: float = 0.6,
                    tv_weight: float = 0.0, seed: int = 0, progress: bool = True) -> np.ndarray:
    """Gradient ascent on the input for each unit; returns one uint8 image per unit.

    Args:
        model: maps a float32 batch of RGB images in [0, 1] ``(n, H, W, 3)`` to a dict
            ``{layer: (n, h, w, c)}`` (e.g. a ``utils.vgg`` feature extractor) or to that array.
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
    """
    import tensorflow as tf
    from tqdm.auto import tqdm

    units = [int(unit) for unit in units]
    if not units:
        raise ValueError("give at least one unit")
    if size < 16 or steps < 1 or octaves < 1:
        raise ValueError(f"need size >= 16, steps >= 1 and octaves >= 1; got {size}, {steps}, {octaves}")
    rng = np.random.default_rng(seed)
    sizes = [max(16, int(round(size / octave_scale ** (octaves - 1 - octave)))) for octave in range(octaves)]
    images = tf.constant(0.5 + 0.02 * rng.standard_normal((len(units), sizes[0], sizes[0], 3)), tf.float32)
    unit_index = tf.constant(units, tf.int32)

    def activation(batch):
        outputs = model(batch)
        features = outputs[layer] if isinstance(outputs, dict) else outputs
        if int(features.shape[-1]) <= max(units):
            raise ValueError(f"layer {layer} has {features.shape[-1]} units; asked for unit {max(units)}")
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

    total = steps * octaves
    with tqdm(total=total, desc=f"visualising {layer}", disable=not progress) as bar:
        for octave, octave_size in enumerate(sizes):
            if octave:
                images = tf.image.resize(images, (octave_size, octave_size), method="bicubic")
            for index in range(steps):
                shift_y, shift_x = (rng.integers(-jitter, jitter + 1, size=2) if jitter else (0, 0))
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
        >>> unit_activations(extractor, "block3_conv1", synthesised, units)   # doctest: +SKIP
    """
    images = np.asarray(images)
    batch = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    outputs = model(batch)
    features = np.asarray(outputs[layer] if isinstance(outputs, dict) else outputs)
    return np.array([features[i, :, :, unit].mean() for i, unit in enumerate(units)], dtype=np.float32)
