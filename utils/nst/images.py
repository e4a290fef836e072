"""Preparing style-transfer images: fitting a style image to the output, and colour preservation.

* :func:`prepare_style_image` — resize a style image so its brush strokes have a chosen scale,
  and crop (or mirror-tile) it to the generated image's exact size, which the course's style cost
  needs (it compares Gram matrices of equally shaped activations).
* :func:`luminance_image` and :func:`combine_luminance` — colour preservation (Gatys et al. 2016):
  transfer the style on luminance only, then put the content's chrominance back. The colour space
  is YIQ, converted with ``tf.image.rgb_to_yiq`` / ``tf.image.yiq_to_rgb``.

Example:
    >>> import numpy as np
    >>> style = np.zeros((30, 50, 3), np.uint8)
    >>> prepare_style_image(style, 40, 60, scale=0.5).shape
    (40, 60, 3)
"""

from __future__ import annotations

import math

import numpy as np

from utils import image_io
from utils.errors import NSTError

__all__ = ["prepare_style_image", "luminance_image", "combine_luminance"]


def prepare_style_image(style: np.ndarray, height: int, width: int, scale: float = 1.0) -> np.ndarray:
    """Fit a style image to (height, width) with brush strokes ``scale`` times their natural size.

    The style is first resized to just cover (height, width) (aspect ratio kept): that is scale 1.
    It is then resized by ``scale`` and centre-cropped (scale >= 1) or mirror-tiled and cropped
    (scale < 1) to exactly (height, width).

    Args:
        style: uint8 RGB image (H, W, 3).
        height, width: size of the generated image.
        scale: brush-stroke scale, between 0.05 and 20.

    Returns:
        uint8 RGB image of shape (height, width, 3).

    Raises:
        NSTError: ``scale`` outside [0.05, 20].

    Example:
        >>> prepare_style_image(np.zeros((30, 50, 3), np.uint8), 40, 60, 2.5).shape
        (40, 60, 3)
    """
    if not (0.05 <= scale <= 20):
        raise NSTError(f"style scale must be between 0.05 and 20; got {scale}")
    cover = max(height / style.shape[0], width / style.shape[1]) * scale
    new_height = max(1, math.ceil(style.shape[0] * cover))
    new_width = max(1, math.ceil(style.shape[1] * cover))
    resized = image_io.resize(style, (new_height, new_width))
    if new_height < height or new_width < width:
        repeats_down, repeats_across = math.ceil(height / new_height), math.ceil(width / new_width)
        rows = [
            np.concatenate(
                [resized if (row + column) % 2 == 0 else resized[:, ::-1] for column in range(repeats_across)], axis=1
            )
            for row in range(repeats_down)
        ]
        rows = [row if index % 2 == 0 else row[::-1] for index, row in enumerate(rows)]
        resized = np.concatenate(rows, axis=0)
    return image_io.center_crop(resized, (height, width))


def _as_float_rgb(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else np.asarray(image, np.float32)


def _luminance(image: np.ndarray) -> np.ndarray:
    import tensorflow as tf  # deferred: TensorFlow is slow to import

    return tf.image.rgb_to_yiq(_as_float_rgb(image))[..., 0].numpy()


def luminance_image(image: np.ndarray, match_to: np.ndarray | None = None) -> np.ndarray:
    """Gray float image (H, W, 3) in [0, 1] holding the luminance Y of uint8/float RGB ``image``.

    With ``match_to`` (another RGB image), the luminance is shifted and scaled to that image's
    luminance mean and standard deviation (Gatys et al. 2016, colour preservation), so the style's
    brightness statistics do not fight the content's.

    Example:
        >>> gray = luminance_image(np.full((2, 2, 3), 255, np.uint8))
        >>> gray.shape, round(float(gray.max()), 4)
        ((2, 2, 3), 1.0)
    """
    luminance = _luminance(image)
    if match_to is not None:
        reference = _luminance(match_to)
        luminance = (luminance - luminance.mean()) / (luminance.std() + 1e-8) * reference.std() + reference.mean()
    return np.repeat(np.clip(luminance, 0.0, 1.0)[..., None], 3, axis=-1).astype(np.float32)


def combine_luminance(luminance_rgb: np.ndarray, colour_source: np.ndarray) -> np.ndarray:
    """uint8 RGB with the luminance of ``luminance_rgb`` and the chrominance (I, Q) of ``colour_source``.

    Example:
        >>> red = np.zeros((1, 1, 3), np.uint8); red[..., 0] = 200
        >>> gray = np.full((1, 1, 3), 100, np.uint8)
        >>> combine_luminance(gray, red)[0, 0].tolist()   # red hue, the gray's brightness
        [240, 40, 40]
    """
    import tensorflow as tf  # deferred: TensorFlow is slow to import

    yiq = tf.image.rgb_to_yiq(_as_float_rgb(colour_source))
    yiq = tf.concat([tf.image.rgb_to_yiq(_as_float_rgb(luminance_rgb))[..., :1], yiq[..., 1:]], axis=-1)
    rgb = tf.clip_by_value(tf.image.yiq_to_rgb(yiq), 0.0, 1.0).numpy()
    return np.round(rgb * 255.0).astype(np.uint8)
