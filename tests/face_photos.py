"""Test photos made at test time from the course's own photos (asset ``faces_demo``), never committed.

Each builder takes a real photo (RGB array) and returns what a learner's phone or browser would send:
file bytes in a given format (EXIF-rotated JPEG, CMYK JPEG, greyscale / 16-bit / transparent PNG,
HEIC, WebP), a 40-megapixel photo, two faces in one picture, a face too small to align, a picture
without a face, a PNG that declares gigapixels in a few bytes (a decompression bomb), and the
YUV4MPEG2 video that Chromium's fake camera plays (``--use-file-for-fake-video-capture``).

Used by tests/test_faces_widgets.py, tests/test_widgets_camera.py and the browser tests.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from utils import assets, image_io

#: EXIF tag number of Orientation.
ORIENTATION = 0x0112


def demo_folder() -> Path:
    return assets.resolve("faces_demo")


def course_photo(name: str) -> Path:
    """A course photo, e.g. ``course_photo("camera_0.jpg")`` (96x96)."""
    return demo_folder() / "course" / name


def lfw_photo(person: str, number: int) -> Path:
    """A photo of the LFW demo set (250x250), gallery or probe, e.g. ``lfw_photo("Serena_Williams", 1)``."""
    folder = demo_folder() / "lfw"
    name = f"{person}_{number:04d}.jpg"
    for candidate in (folder / "gallery" / person / name, folder / "probes" / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{name} is not in {folder}")


def load(path) -> np.ndarray:
    return image_io.load_image(path)


def encoded(image, image_format: str = "JPEG", **options) -> bytes:
    """A PIL image (or an RGB array) saved in ``image_format``, as bytes."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def exif_rotated_jpeg(upright: np.ndarray, orientation: int) -> bytes:
    """A JPEG whose pixels are stored turned, with the EXIF Orientation that turns them back upright.

    Orientation 6 (a phone held upright, rotated right) stores the picture turned 90 degrees
    counter-clockwise; 8 stores it turned clockwise; 3 upside down.
    """
    stored = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}
    picture = Image.fromarray(upright).transpose(stored[orientation])
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return encoded(picture, "JPEG", quality=95, exif=exif.tobytes())


def portrait(image: np.ndarray) -> np.ndarray:
    """The central portrait-shaped (taller than wide) part of a square photo."""
    height, width = image.shape[:2]
    keep = int(width * 0.72)
    left = (width - keep) // 2
    return np.ascontiguousarray(image[:, left : left + keep])


def cmyk_jpeg(image: np.ndarray) -> bytes:
    return encoded(Image.fromarray(image).convert("CMYK"), "JPEG", quality=95)


def greyscale_png(image: np.ndarray) -> bytes:
    return encoded(Image.fromarray(image).convert("L"), "PNG")


def sixteen_bit_png(image: np.ndarray) -> bytes:
    """A 16-bit greyscale PNG (what scanners and raw converters write)."""
    grey = np.asarray(Image.fromarray(image).convert("L"), dtype=np.uint16) * 257
    picture = Image.fromarray(grey)  # uint16 -> mode "I;16"
    assert picture.mode == "I;16", picture.mode
    return encoded(picture, "PNG")


def transparent_png(image: np.ndarray) -> bytes:
    """An RGBA PNG: the photo opaque in the middle, fading to transparent at the borders."""
    height, width = image.shape[:2]
    rows = np.minimum(np.arange(height), np.arange(height)[::-1])[:, None]
    columns = np.minimum(np.arange(width), np.arange(width)[None, ::-1])
    alpha = np.clip(np.minimum(rows, columns) * (255.0 / (0.12 * min(height, width))), 0, 255).astype(np.uint8)
    return encoded(Image.fromarray(np.dstack([image, alpha]), mode="RGBA"), "PNG")


def heic(image: np.ndarray) -> bytes:
    """The photo as HEIC, what an iPhone sends (pillow-heif)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return encoded(image, "HEIF", quality=90)


def webp(image: np.ndarray) -> bytes:
    return encoded(image, "WEBP", quality=90)


def big_photo(image: np.ndarray, megapixels: float = 40.0) -> np.ndarray:
    """A 3:2 photo of ``megapixels`` with ``image`` enlarged to its full height in the middle."""
    height = int(round((megapixels * 1e6 / 1.5) ** 0.5))
    width = int(round(1.5 * height))
    canvas = Image.new("RGB", (width, height), (118, 124, 131))
    canvas.paste(Image.fromarray(image).resize((height, height), Image.BICUBIC), ((width - height) // 2, 0))
    return np.asarray(canvas)


def two_faces(larger: np.ndarray, smaller: np.ndarray, smaller_scale: float = 0.6) -> np.ndarray:
    """Two photos side by side on one canvas, the second reduced: the larger face is on the left."""
    small = np.asarray(
        Image.fromarray(smaller).resize(
            (int(smaller.shape[1] * smaller_scale), int(smaller.shape[0] * smaller_scale)), Image.LANCZOS
        )
    )
    height = max(larger.shape[0], small.shape[0])
    canvas = np.full((height, larger.shape[1] + small.shape[1], 3), 128, np.uint8)
    canvas[: larger.shape[0], : larger.shape[1]] = larger
    canvas[height - small.shape[0] :, larger.shape[1] :] = small
    return canvas


def small_face(image: np.ndarray, scale: float, canvas_side: int = 320) -> np.ndarray:
    """The photo reduced by ``scale`` and pasted in the middle of a grey ``canvas_side`` picture."""
    size = (max(1, int(round(image.shape[1] * scale))), max(1, int(round(image.shape[0] * scale))))
    small = np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))
    canvas = np.full((canvas_side, canvas_side, 3), 128, np.uint8)
    top, left = (canvas_side - small.shape[0]) // 2, (canvas_side - small.shape[1]) // 2
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    return canvas


def no_face(side: int = 240) -> np.ndarray:
    """A smooth colour gradient: a picture, but of no face."""
    ramp = np.linspace(0, 255, side)
    return np.dstack([np.tile(ramp, (side, 1)), np.tile(ramp[:, None], (1, side)), np.full((side, side), 90.0)]).astype(
        np.uint8
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` pixels (3.6 gigapixels), a few bytes long."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")


def camera_picture(image: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """What a webcam would see: the photo enlarged to the frame's height, in the middle of a grey frame."""
    side = height
    canvas = Image.new("RGB", (width, height), (110, 116, 122))
    canvas.paste(Image.fromarray(image).resize((side, side), Image.BICUBIC), ((width - side) // 2, 0))
    return np.asarray(canvas)


def y4m_video(image: np.ndarray, frames: int = 2, rate: int = 10) -> bytes:
    """A YUV4MPEG2 video (4:2:0, full-range BT.601 as JPEG uses) showing ``image`` in every frame.

    The format: one text header line, then per frame the line ``FRAME`` and the Y plane (one byte
    per pixel) followed by the Cb and Cr planes at half the width and half the height.
    """
    height, width = image.shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"4:2:0 video needs an even width and height, got {width}x{height}")
    luma, blue, red = Image.fromarray(image).convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = luma.tobytes() + blue.resize(half, Image.BOX).tobytes() + red.resize(half, Image.BOX).tobytes()
    header = f"YUV4MPEG2 W{width} H{height} F{rate}:1 Ip A1:1 C420jpeg\n".encode("ascii")
    return header + (b"FRAME\n" + planes) * frames


def read_y4m_first_frame(data: bytes) -> np.ndarray:
    """The first frame of a video from :func:`y4m_video`, back to RGB (to test the writer)."""
    header, _, rest = data.partition(b"\n")
    fields = {field[:1]: field[1:] for field in header.split()[1:]}
    width, height = int(fields[b"W"]), int(fields[b"H"])
    if not rest.startswith(b"FRAME\n"):
        raise ValueError("no FRAME after the header")
    body = rest[len(b"FRAME\n") :]
    luma_size, chroma_size = width * height, (width // 2) * (height // 2)
    luma = Image.frombytes("L", (width, height), body[:luma_size])
    blue = Image.frombytes("L", (width // 2, height // 2), body[luma_size : luma_size + chroma_size])
    red = Image.frombytes("L", (width // 2, height // 2), body[luma_size + chroma_size : luma_size + 2 * chroma_size])
    planes = [luma, blue.resize((width, height), Image.BILINEAR), red.resize((width, height), Image.BILINEAR)]
    return np.asarray(Image.merge("YCbCr", planes).convert("RGB"))
