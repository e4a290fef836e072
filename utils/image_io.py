"""Image input/output: load any JPEG/PNG/WebP/HEIC as RGB uint8, resize and crop, save, convert.

Files are read with :func:`load_image`, bytes in memory (an upload, a camera frame) with
:func:`load_image_bytes`, through the same checks. HEIC/HEIF photos (what phones send) are read
through the ``pillow-heif`` plugin. Every loader returns a ``numpy.ndarray`` of shape ``(height, width, 3)`` and dtype ``uint8`` in RGB
order, whatever the file held: EXIF orientation is applied, and grayscale, grayscale+alpha, RGBA,
palette, CMYK and 16-bit images are converted. Transparent pixels are composited over white.

A file that cannot be loaded raises :class:`ImageError` with one line naming the file and the
real reason: missing, a folder, not a regular file, empty, unreadable (permissions), not an image
(with what it holds instead when that is recognisable: HTML, SVG, PDF, a NumPy array, text),
truncated or corrupt, or larger than :data:`MAX_PIXELS`. The size is checked on the header, before
any pixel is decoded, so a "decompression bomb" (a small file that declares a huge image) costs
nothing.

Example:
    >>> from utils import image_io
    >>> image = image_io.load_image("photo.jpg", size=(224, 224))   # doctest: +SKIP
    >>> image.shape, image.dtype                                      # doctest: +SKIP
    ((224, 224, 3), dtype('uint8'))
    >>> image_io.describe_pixels(50000 * 50000)
    '2.5 gigapixels'
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from utils import files
from utils.errors import ImageError, UsageError

__all__ = [
    "ImageError",
    "MAX_PIXELS",
    "load_image",
    "load_image_bytes",
    "check_save_path",
    "describe_pixels",
    "resize",
    "resize_max_side",
    "center_crop",
    "save_image",
    "to_float_tensor",
    "from_float_tensor",
]

#: Largest image, in pixels (width x height), that :func:`load_image` decodes: 100 megapixels,
#: 300 MB as RGB uint8. Larger files (and decompression bombs, which declare gigapixels in a few
#: bytes) are refused from their header. A 24 MP photo (6000x4000) or a 50 MP one is well below.
#: Raise it for a trusted file that is bigger; above 2 x ``PIL.Image.MAX_IMAGE_PIXELS`` (179 MP)
#: PIL refuses the file itself, and that limit must be raised too.
MAX_PIXELS = 100_000_000


def describe_pixels(pixels: int) -> str:
    """A pixel count in words: ``"24 megapixels"``, ``"2.5 gigapixels"``.

    Example:
        >>> describe_pixels(6000 * 4000), describe_pixels(MAX_PIXELS)
        ('24 megapixels', '100 megapixels')
    """
    if pixels >= 1_000_000_000:
        return f"{pixels / 1e9:.3g} gigapixels"
    if pixels >= 1_000_000:
        return f"{pixels / 1e6:.3g} megapixels"
    return f"{pixels} pixels"


def _too_large(name, size: tuple[int, int]) -> ImageError:
    width, height = size
    return ImageError(
        f"{name}: image declares {width}x{height} = {describe_pixels(width * height)}, more than the "
        f"limit of {describe_pixels(MAX_PIXELS)} (utils.image_io.MAX_PIXELS); it may be a decompression "
        f"bomb. Resize it below the limit, or raise the limit if you trust the file"
    )


def _readers_for(prefix: bytes, by_signature_only: bool = False):
    """PIL's format readers that accept a file starting with ``prefix``: ``(format, factory)``.

    With ``by_signature_only``, readers that have no signature test (and so accept anything) are
    left out.

    These are the tables ``Image.open`` itself walks (``Image.ID`` / ``Image.OPEN``); calling a
    factory on an open file parses the header and decodes no pixels.
    """
    Image.init()
    for format_id in Image.ID:
        factory, accept = Image.OPEN[format_id]
        if accept is None and by_signature_only:
            continue
        verdict = accept(prefix) if accept else True
        if verdict and not isinstance(verdict, str):  # a string is a reason for not accepting
            yield format_id, factory


def _parse_header(source: _Source, by_signature_only: bool = False):
    """``(format, size, None)`` from the first reader that parses the header, else
    ``(format, None, reason)`` for the first reader that accepted the prefix, else ``None``.

    Read without PIL's size check, to say how large a refused "decompression bomb" claims to be,
    or why a file that starts like an image is not one.
    """
    first_failure = None
    with source.open() as handle:
        prefix = handle.read(16)
        for format_id, factory in _readers_for(prefix, by_signature_only):
            try:
                handle.seek(0)
                return format_id, tuple(factory(handle, source.name).size), None
            except (SyntaxError, IndexError, TypeError, ValueError, OSError, struct.error) as error:
                first_failure = first_failure or (format_id, None, str(error) or type(error).__name__)
    return first_failure


#: Recognisable contents of files that are not images, by their first bytes.
_SIGNATURES = (
    (b"%PDF", "a PDF document; export the page as PNG or JPEG"),
    (b"PK\x03\x04", "a zip archive; extract the images first"),
    (b"\x93NUMPY", "a NumPy .npy array; load it with numpy.load and pass the array"),
    (b"\x1f\x8b", "gzip-compressed data; decompress it first"),
)

#: ISO base media brands of HEIC/HEIF photos (iPhones), which PIL reads only with a plugin.
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")


def _what_it_holds(source: _Source) -> str:
    """Why a file that PIL cannot identify is not an image, in words (for the error message)."""
    with source.open() as handle:
        head = handle.read(512)
    for signature, meaning in _SIGNATURES:
        if head.startswith(signature):
            return f"it holds {meaning}"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        if _heif_plugin is not None:
            return "it starts like a HEIC/HEIF photo, but pillow-heif cannot decode it (truncated or corrupt?)"
        return (
            "it is a HEIC/HEIF photo, which PIL reads only with the pillow-heif plugin (pip install "
            "pillow-heif, listed in requirements.txt); or convert it to JPEG or PNG"
        )
    if b"\x00" not in head:
        try:
            text = head.decode("utf-8").lower()
        except UnicodeDecodeError:
            text = None
        if text is not None:
            if "<html" in text or "<!doctype html" in text:
                return "it holds an HTML page (a saved web page?), not the image itself"
            if "<svg" in text:
                return "it is an SVG drawing (vector graphics); export it as PNG"
            return "it holds text"
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        if width == 0 or height == 0:
            return f"its PNG header declares an empty {width}x{height} image"
    header = _parse_header(source, by_signature_only=True)
    if header is not None:  # a reader recognised the first bytes but not the header
        return f"it starts like a {header[0]} file, but its header is corrupt ({header[2]})"
    suffix = Path(source.name).suffix
    expected = Image.registered_extensions().get(suffix.lower())
    named = f"its name ends in {suffix} but it does not hold {expected} data; " if expected else ""
    return f"{named}its first bytes {head[:8]!r} match no image format PIL reads"


def _check_file(path: Path) -> None:
    """Raise :class:`ImageError` naming the file if ``path`` cannot be an image file to read."""
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file; give the image files in it")
    if not path.exists():
        if path.is_symlink():
            raise ImageError(f"{path} is a broken symbolic link (its target {os.readlink(path)} does not exist)")
        folder = path.parent
        where = "" if folder.is_dir() else f" (the folder {folder} does not exist either)"
        raise ImageError(f"image file not found: {path}{where}")
    if not path.is_file():
        raise ImageError(f"{path} is not a regular file (a device, pipe or socket); give an image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is empty (0 bytes); the download or copy that made it may have failed")


class _Source:
    """Where image bytes come from: a file (``path``) or bytes in memory (``data``), and the ``name``
    error messages give it (the path, or an uploaded file's name)."""

    def __init__(self, name: str, path: Path | None = None, data: bytes | None = None):
        self.name, self.path, self.data = name, path, data

    def open(self):
        return open(self.path, "rb") if self.path is not None else io.BytesIO(self.data)


_heif_tried = False
_heif_plugin = None


def _register_heif() -> None:
    """Teach PIL to read HEIC/HEIF photos (what phones send) through pillow-heif, once, where installed."""
    global _heif_tried, _heif_plugin
    if not _heif_tried:
        _heif_tried = True
        try:
            import pillow_heif  # deferred: an optional plugin, only needed for HEIC/HEIF photos
        except ImportError:  # without it a HEIC file gets a line saying how to read it (_what_it_holds)
            return
        pillow_heif.register_heif_opener()
        _heif_plugin = pillow_heif


def _read_file(path: Path) -> np.ndarray:
    """Decode an image file to RGB uint8, refusing it from its header when it is too large."""
    _check_file(path)
    try:
        return _decode(_Source(str(path), path=path))
    except PermissionError:
        raise ImageError(f"{path}: permission denied; the file is not readable by this user") from None


def _decode(source: _Source) -> np.ndarray:
    """Decode ``source`` to RGB uint8, refusing it from its header when it is too large."""
    _register_heif()
    name = source.name
    try:
        with warnings.catch_warnings():
            # PIL warns above its own limit; ours (MAX_PIXELS) is checked right below, before decoding.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with source.open() as handle, Image.open(handle) as opened:
                if opened.size[0] * opened.size[1] > MAX_PIXELS:
                    raise _too_large(name, opened.size)
                if opened.size[0] == 0 or opened.size[1] == 0:
                    raise ImageError(f"{name}: image declares {opened.size[0]}x{opened.size[1]} pixels, an empty image")
                kind = f"{opened.format} image of {opened.size[0]}x{opened.size[1]}"
                try:
                    opened.load()
                    image = _to_rgb(ImageOps.exif_transpose(opened))
                except MemoryError:
                    raise ImageError(f"{name}: not enough memory to decode this {kind}") from None
                except (OSError, SyntaxError, ValueError, struct.error) as error:
                    raise ImageError(
                        f"{name}: the {kind} is truncated or corrupt ({error}); an interrupted download or copy?"
                    ) from None
    except (ImageError, PermissionError):
        raise
    except Image.DecompressionBombError as error:  # PIL refuses above 2 x its own limit
        header = _parse_header(source)
        size = header[1] if header else None
        if size is not None and size[0] * size[1] > MAX_PIXELS:
            raise _too_large(name, size) from None
        raise ImageError(f"{name}: {error} (raise PIL.Image.MAX_IMAGE_PIXELS to read it)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image: {_what_it_holds(source)}") from None
    except (OSError, SyntaxError, ValueError, struct.error) as error:
        raise ImageError(f"{name}: cannot read the image header ({error}); the file is truncated or corrupt") from None
    return np.asarray(image, dtype=np.uint8).copy()


def load_image_bytes(data: bytes, name: str = "the uploaded file") -> np.ndarray:
    """Decode an image held in memory (an upload, a camera frame) exactly as :func:`load_image` reads a file.

    Args:
        data: the file's bytes (JPEG, PNG, WebP, HEIC/HEIF with pillow-heif, anything PIL reads).
        name: what error messages call it (e.g. the uploaded file's name).

    Returns:
        ``np.ndarray`` uint8, shape (H, W, 3), RGB; EXIF orientation applied.

    Raises:
        ImageError: empty, not an image (saying what it holds), truncated or corrupt, or larger than
            :data:`MAX_PIXELS` (refused from the header, before decoding).

    Example:
        >>> import io
        >>> buffer = io.BytesIO()
        >>> Image.new("L", (4, 2), 128).save(buffer, format="PNG")
        >>> load_image_bytes(buffer.getvalue(), "grey.png").shape
        (2, 4, 3)
        >>> load_image_bytes(b"%PDF-1.7 ...", "scan.pdf")
        Traceback (most recent call last):
        ...
        utils.errors.ImageError: scan.pdf is not an image: it holds a PDF document; export the page as PNG or JPEG
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UsageError(f"load_image_bytes needs bytes; got {type(data).__name__}")
    if len(data) == 0:
        raise ImageError(f"{name} is empty (0 bytes); the upload or capture may have failed")
    return _decode(_Source(name, data=bytes(data)))


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
            raise ImageError(
                f"{name} values must lie in [0, 1] or [0, 255]; got [{array.min():.3g}, {array.max():.3g}]"
            )
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
        ImageError: the file is missing, a folder, empty, unreadable, not an image, truncated or
            corrupt, or declares more than :data:`MAX_PIXELS` pixels (refused before decoding);
            or the array is not an image. The message names the file and the reason.
    """
    if isinstance(source, (str, os.PathLike)):
        array = _read_file(Path(source))
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
    return array[top : top + height, left : left + width].copy()


def _save_format(path: Path) -> str:
    suffix = path.suffix.lower() or ".png"
    image_format = Image.registered_extensions().get(suffix)
    if image_format is None or image_format not in Image.SAVE:
        raise UsageError(
            f"cannot save an image as {path}: PIL writes no image format with the "
            f"extension {path.suffix!r}; use .png or .jpg"
        )
    return image_format


def check_save_path(path) -> Path:
    """Check, before any work, that :func:`save_image` will be able to write ``path``.

    Raises :class:`utils.errors.UsageError` when the extension is not an image format PIL writes,
    or the path is a folder, lies under a regular file or in a folder that is not writable.

    Example:
        >>> check_save_path("out/result.png").name
        'result.png'
        >>> check_save_path("out/result.txt")
        Traceback (most recent call last):
        ...
        utils.errors.UsageError: cannot save an image as out/result.txt: PIL writes no image format with the extension '.txt'; use .png or .jpg
    """
    path = Path(path)
    _save_format(path)
    return files.check_writable(path, what="image")


def save_image(path, image) -> Path:
    """Save an image atomically (written to a temporary file, then renamed).

    Args:
        path: destination; the format follows the extension (.png, .jpg, ...; none means PNG).
            Folders are created.
        image: uint8 (H, W, 3), a float array in [0, 1] or [0, 255], or a (1, H, W, 3) tensor.

    Returns:
        The path written.

    Raises:
        UsageError: the extension is not an image format PIL writes, or the path cannot be
            written (see :func:`check_save_path`); checked before the image is converted.
        ImageError: ``image`` is not an image array.
    """
    path = check_save_path(path)
    image_format = _save_format(path)
    if hasattr(image, "numpy"):
        image = image.numpy()
    array = _check_array(image)
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
