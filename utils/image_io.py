"""Image input/output: load any JPEG/PNG as RGB uint8, resize and crop, save, convert.

Every loader returns a ``numpy.ndarray`` of shape ``(height, width, 3)`` and dtype ``uint8`` in RGB
order, whatever the file held: EXIF orientation is applied, and grayscale, grayscale+alpha, RGBA,
palette, CMYK and 16-bit images are converted. Transparent pixels are composited over white.
Unreadable, truncated or non-image files raise :class:`ImageError` naming the file.

Example:
    >>> from utils import image_io
    >>> image = image_io.load_image("photo.jpg", size=(224, 224))   # doctest: +SKIP
    >>> image.shape, image.dtype                                      # doctest: +SKIP
    ((224, 224, 3), dtype('uint8'))
"""

from __future__ import annotations

import os
from pathlib import Path
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from utils import files
from utils.errors import ImageError

__all__ = ["ImageError", "load_image", "resize", "resize_max_side", "center_crop", "save_image",
           "to_float_tensor", "from_float_tensor"]


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB, compositing transparency over white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(np.round(array * (255.0 / top)), 0, 255).astype(np.uint8)
        image = Image.fromarray(array, mode="L")
    elif image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        scale = 255.0 if array.max() <= 1.0 else 1.0
        image = Image.fromarray(np.clip(np.round(array * scale), 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "La", "PA"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "RGBa"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def _check_array(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate and normalise an array image to uint8 (H, W, 3)."""
    array = np.asarray(image)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageError(f"{name} must have shape (height, width, 3); got {array.shape}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if array.shape[2] == 4:
        array = array[:, :, :3]
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"{name} is empty: shape {array.shape}")
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ImageError(f"{name} holds NaN or infinite values")
        if array.min() < -1e-3 or array.max() > 255.0 + 1e-3:
            raise ImageError(f"{name} values must lie in [0, 1] or [0, 255]; got "
                             f"[{array.min():.3g}, {array.max():.3g}]")
        scale = 255.0 if array.max() <= 1.0 + 1e-6 else 1.0
        return np.clip(np.round(array * scale), 0, 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        top = 65535 if array.max() > 255 else 255
        return np.clip(np.round(array * (255.0 / top)), 0, 255).astype(np.uint8)
    raise ImageError(f"{name} has unsupported dtype {array.dtype}")


def load_image(source, size: tuple[int, int] | int | None = None) -> np.ndarray:
    """Load an image file (or take an array) as RGB ``uint8`` of shape ``(height, width, 3)``.

    Args:
        source: a path (``str`` or ``Path``) to any image PIL reads, or an array of shape
            (H, W), (H, W, 3), (H, W, 4) or (1, H, W, 3) in uint8, [0, 1] floats or [0, 255] floats.
        size: optional ``(height, width)`` to resize to exactly, or an ``int`` for the longer side
            (aspect ratio kept).

    Returns:
        ``np.ndarray`` uint8, shape (H, W, 3), RGB.

    Raises:
        ImageError: the file is missing, unreadable, truncated or not an image, or the array is
            not an image. The message names the file.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"image file not found: {path}")
        try:
            with Image.open(path) as opened:
                opened.load()
                image = _to_rgb(ImageOps.exif_transpose(opened))
        except UnidentifiedImageError:
            raise ImageError(f"{path} is not an image file PIL can read") from None
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageError(f"could not read image {path}: {error} (the file may be truncated or "
                             f"corrupt)") from None
        array = np.asarray(image, dtype=np.uint8).copy()
    else:
        array = _check_array(source)
    if size is not None:
        array = resize_max_side(array, size) if isinstance(size, int) else resize(array, size)
    return array


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to exactly ``(height, width)`` with a Lanczos filter (aspect ratio not kept).

    Example:
        >>> resize(np.zeros((10, 20, 3), np.uint8), (5, 5)).shape
        (5, 5, 3)
    """
    height, width = (int(v) for v in size)
    if height <= 0 or width <= 0:
        raise ImageError(f"size must be positive (height, width); got {size}")
    array = _check_array(image)
    if array.shape[:2] == (height, width):
        return array.copy()
    return np.asarray(Image.fromarray(array).resize((width, height), Image.LANCZOS))


def resize_max_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """Resize so the longer side is ``max_side`` pixels, keeping the aspect ratio.

    Example:
        >>> resize_max_side(np.zeros((100, 200, 3), np.uint8), 50).shape
        (25, 50, 3)
    """
    if int(max_side) <= 0:
        raise ImageError(f"max_side must be positive; got {max_side}")
    array = _check_array(image)
    height, width = array.shape[:2]
    scale = max_side / max(height, width)
    return resize(array, (max(1, round(height * scale)), max(1, round(width * scale))))


def center_crop(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Cut the central ``(height, width)`` window; the image must be at least that large.

    Example:
        >>> center_crop(np.zeros((10, 20, 3), np.uint8), (4, 6)).shape
        (4, 6, 3)
    """
    array = _check_array(image)
    height, width = (int(v) for v in size)
    if height > array.shape[0] or width > array.shape[1] or height <= 0 or width <= 0:
        raise ImageError(f"cannot crop {height}x{width} from an image of {array.shape[0]}x{array.shape[1]}")
    top = (array.shape[0] - height) // 2
    left = (array.shape[1] - width) // 2
    return array[top:top + height, left:left + width].copy()


def save_image(path, image) -> Path:
    """Save an image atomically (written to a temporary file, then renamed).

    Args:
        path: destination; the format follows the extension (.png, .jpg, ...). Folders are created.
        image: uint8 (H, W, 3), a float array in [0, 1] or [0, 255], or a (1, H, W, 3) tensor.

    Returns:
        The path written.
    """
    path = Path(path)
    if hasattr(image, "numpy"):
        image = image.numpy()
    array = _check_array(image)
    suffix = path.suffix or ".png"
    image_format = Image.registered_extensions().get(suffix.lower(), "PNG")
    files.write_with(path, lambda temporary: Image.fromarray(array).save(temporary, format=image_format))
    return path


def to_float_tensor(image):
    """Convert an image to a ``tf.float32`` tensor of shape (1, H, W, 3) with values in [0, 1]."""
    import tensorflow as tf

    return tf.constant(_check_array(image)[None].astype(np.float32) / 255.0)


def from_float_tensor(tensor) -> np.ndarray:
    """Convert a (1, H, W, 3) or (H, W, 3) float tensor in [0, 1] back to uint8 (H, W, 3).

    Values are clipped to [0, 1] first, as the optimiser may overshoot.
    """
    array = np.asarray(tensor.numpy() if hasattr(tensor, "numpy") else tensor, dtype=np.float32)
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ImageError(f"expected a single image (1, H, W, 3); got batch of {array.shape[0]}")
        array = array[0]
    if array.ndim != 3 or array.shape[2] != 3:
        raise ImageError(f"expected shape (H, W, 3); got {array.shape}")
    return np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
