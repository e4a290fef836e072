"""A learner's image in, an image out: upload (or camera) to RGB array, array to PNG, view and download link.

A learner's own image is untrusted input like any other file: it goes through
:func:`utils.image_io.load_image_bytes`, the same checks as a file (decompression bombs refused
from the header, EXIF orientation applied, CMYK, greyscale, 16-bit and alpha converted, HEIC/HEIF
through pillow-heif, a non-image named for what it holds), and a bad one becomes one line in the
widget, never a traceback.

Example:
    >>> import numpy as np
    >>> picture = ImageInput("Photo")
    >>> picture.load(np.zeros((40, 30, 3), np.uint8), name="black.png")
    True
    >>> picture.image.shape, picture.message.text
    ((40, 30, 3), 'black.png: 30×40 pixels.')
    >>> picture.load(b"not an image at all", name="notes.txt")
    False
    >>> picture.message.text, picture.image.shape    # the previous image is kept
    ('notes.txt is not an image: it holds text', (40, 30, 3))
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Callable
from pathlib import Path

import ipywidgets
import numpy as np
from PIL import Image

from utils import image_io
from utils.errors import CourseError, ImageError
from utils.widgets.controls import MessageLine

__all__ = ["MAX_UPLOAD_BYTES", "ACCEPTED", "decode_upload", "ImageInput", "png_bytes", "image_view", "download_link"]

#: Largest upload read (bytes): a 50-megapixel phone JPEG is ~25 MB; anything larger is refused unread.
MAX_UPLOAD_BYTES = 64 * 2**20

#: What the file chooser offers: JPEG, PNG, WebP and HEIC/HEIF (what phones send).
ACCEPTED = ".jpg,.jpeg,.png,.webp,.heic,.heif,image/jpeg,image/png,image/webp,image/heic,image/heif"


def decode_upload(content: bytes, name: str) -> np.ndarray:
    """An uploaded file's bytes as RGB ``uint8`` (H, W, 3), through the checks files get.

    Args:
        content: the file's bytes (a ``memoryview`` from ipywidgets' FileUpload is fine).
        name: the file's name, for messages.

    Returns:
        The image, EXIF orientation applied.

    Raises:
        ImageError: one line naming ``name``: empty, too large, not an image (what it holds instead),
            truncated, or a decompression bomb.
    """
    name = _safe_name(name)
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImageError(
            f"{name} is {len(content) / 2**20:.0f} MB, more than the {MAX_UPLOAD_BYTES // 2**20} MB "
            f"an upload may have; export a smaller JPEG"
        )
    return image_io.load_image_bytes(bytes(content), name)


def _safe_name(name) -> str:
    """A file name fit for one line of a message: no control characters, at most 80 characters."""
    text = "".join(character for character in str(name or "the uploaded file") if character.isprintable())
    return text[:77] + "..." if len(text) > 80 else text or "the uploaded file"


def _thumbnail(image: np.ndarray, side: int) -> np.ndarray:
    """A copy at most ``side`` pixels on its longer side, made fast for a 40-megapixel photo (PIL's
    ``reducing_gap``: shrink by whole factors first, then resample the small copy)."""
    thumbnail = Image.fromarray(image)
    thumbnail.thumbnail((side, side), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return np.asarray(thumbnail)


def png_bytes(image) -> bytes:
    """An image (anything :func:`utils.image_io.load_image` takes as an array) encoded as PNG.

    Example:
        >>> png_bytes(np.zeros((2, 2, 3), np.uint8))[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
    """
    buffer = io.BytesIO()
    Image.fromarray(image_io.load_image(np.asarray(image))).save(buffer, format="PNG")
    return buffer.getvalue()


def image_view(image=None, width: int | None = None) -> ipywidgets.Image:
    """An ``ipywidgets.Image`` showing ``image`` (None: empty until its ``value`` is set)."""
    view = ipywidgets.Image(format="png", value=png_bytes(image) if image is not None else b"")
    if width is not None:
        view.layout.width = f"{int(width)}px"
    return view


def download_link(image_or_bytes, filename: str) -> ipywidgets.HTML:
    """A link that downloads ``image_or_bytes`` (an image array, or a file's bytes) as ``filename``.

    The file travels inside the link (a ``data:`` URI), so it works offline and writes nothing on
    the server.

    Example:
        >>> link = download_link(np.zeros((2, 2, 3), np.uint8), "result.png")
        >>> 'download="result.png"' in link.value
        True
    """
    content = bytes(image_or_bytes) if isinstance(image_or_bytes, (bytes, bytearray)) else png_bytes(image_or_bytes)
    kind = "image/png" if content.startswith(b"\x89PNG") else "application/octet-stream"
    safe = html.escape(_safe_name(filename), quote=True)
    encoded = base64.b64encode(content).decode("ascii")
    return ipywidgets.HTML(
        f'<a class="course-download" download="{safe}" href="data:{kind};base64,{encoded}">Download {safe}</a>'
    )


class ImageInput(ipywidgets.VBox):
    """Take an image from the learner: an upload (JPEG, PNG, WebP, HEIC) or, with ``camera=True``, a capture.

    Args:
        description: what the image is ("Photo", "Content image", ...), shown on the upload button.
        camera: also offer the camera (the browser's getUserMedia; frames stay on this machine).
        preview_size: the preview's width in pixels.

    Attributes:
        image: the last good image, RGB uint8 (H, W, 3), or None.
        name: its name (the file's, or "camera frame N").
        message: the :class:`MessageLine` under the control.
    """

    def __init__(self, description: str = "Photo", camera: bool = False, preview_size: int = 160):
        self.description = description
        self.upload = ipywidgets.FileUpload(
            accept=ACCEPTED,
            multiple=False,
            description=f"Upload {description.lower()}",
            layout=ipywidgets.Layout(width="auto"),
        )
        self.message = MessageLine()
        self.preview = ipywidgets.Image(format="png", value=b"", layout=ipywidgets.Layout(width=f"{preview_size}px"))
        self.preview_size = preview_size
        self.image: np.ndarray | None = None
        self.name: str | None = None
        self._callbacks: list[Callable] = []
        self._frames = 0
        self.camera = None
        sources: list[ipywidgets.Widget] = [self.upload]
        if camera:
            from utils.widgets.camera import Camera  # deferred: anywidget is needed only with a camera

            self.camera = Camera()
            self.camera.on_frame(self._on_frame)
            self.camera.on_error(self.message.error)
            sources.append(self.camera)
        self.upload.observe(self._on_upload, names="value")
        super().__init__([ipywidgets.HBox(sources), self.message, self.preview])

    def on_image(self, callback: Callable[[np.ndarray, str], None]) -> None:
        """Call ``callback(image, name)`` after each good upload or capture."""
        self._callbacks.append(callback)

    def load(self, source, name: str | None = None) -> bool:
        """Take ``source`` (a path, bytes, or an array) as if the learner had uploaded it.

        Returns:
            True when it was a usable image (then the callbacks ran), False when the message line
            says why not (the previous image is kept).
        """
        try:
            if isinstance(source, (bytes, bytearray, memoryview)):
                name = _safe_name(name)
                image = decode_upload(source, name)
            elif isinstance(source, (str, os.PathLike)):
                name = _safe_name(name or Path(source).name)
                image = image_io.load_image(source)
            else:
                name = _safe_name(name or "the array")
                image = image_io.load_image(np.asarray(source))
        except CourseError as error:
            self.message.error(error)
            return False
        self.image, self.name = image, name
        height, width = image.shape[:2]
        self.preview.value = png_bytes(_thumbnail(image, self.preview_size * 2))
        self.message.success(f"{name}: {width}×{height} pixels.")
        for callback in self._callbacks:
            try:
                callback(image, name)
            except Exception as error:  # the application's step failed on this image: one line, no traceback
                self.message.error(error)
                return False
        return True

    def _on_upload(self, change) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        self.load(item["content"], item.get("name"))

    def _on_frame(self, frame: bytes) -> None:
        """One capture that holds a picture (the camera reports empty frames and refusals itself)."""
        self._frames += 1
        self.load(frame, name=f"camera frame {self._frames}")
