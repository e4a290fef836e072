"""utils.image_io on generated files of every PIL mode, EXIF orientation, and bad files."""

import os
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from utils import errors, image_io


def _save(tmp_path, name, image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def test_rgb_roundtrip_png(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    path = image_io.save_image(tmp_path / "sub" / "x.png", array)
    loaded = image_io.load_image(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (7, 5, 3)
    np.testing.assert_array_equal(loaded, array)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16", "I", "1", "F"])
def test_every_mode_becomes_rgb_uint8(tmp_path, mode):
    base = Image.new("RGB", (6, 4), (200, 100, 50))
    if mode == "I;16":
        image = Image.fromarray(np.full((4, 6), 65535, dtype=np.uint16))
        image = image.convert("I;16") if image.mode != "I;16" else image
    elif mode == "F":
        image = Image.fromarray(np.full((4, 6), 0.5, dtype=np.float32))
    else:
        image = base.convert(mode)
    suffix = ".tiff" if mode in ("CMYK", "F", "I") else ".png"
    path = _save(tmp_path, f"img{suffix}", image)
    loaded = image_io.load_image(path)
    assert loaded.shape == (4, 6, 3) and loaded.dtype == np.uint8
    if mode == "I;16":
        assert loaded.min() == 255  # full-scale 16-bit maps to white
    if mode == "F":
        assert loaded[0, 0, 0] == 128
    if mode == "L":
        assert len(set(loaded[0, 0])) == 1  # gray replicated to 3 channels


def test_rgba_transparency_composited_over_white(tmp_path):
    array = np.zeros((2, 2, 4), np.uint8)
    array[0, 0] = (255, 0, 0, 255)  # opaque red
    path = _save(tmp_path, "a.png", Image.fromarray(array, "RGBA"))
    loaded = image_io.load_image(path)
    assert tuple(loaded[0, 0]) == (255, 0, 0)
    assert tuple(loaded[1, 1]) == (255, 255, 255)  # fully transparent -> white


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 20, 20))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = _save(tmp_path, "rot.jpg", image, exif=exif.tobytes(), quality=95)
    loaded = image_io.load_image(path)
    assert loaded.shape == (40, 20, 3)  # portrait after rotation
    assert loaded[5, 10].mean() > 200 and loaded[35, 10].mean() < 50  # white half on top


def test_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.jpg"
    with pytest.raises(image_io.ImageError, match="nope.jpg"):
        image_io.load_image(missing)
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image")
    with pytest.raises(image_io.ImageError, match="notes.jpg"):
        image_io.load_image(text)
    good = image_io.save_image(tmp_path / "full.jpg", np.full((64, 64, 3), 90, np.uint8))
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(image_io.ImageError, match="truncated.jpg"):
        image_io.load_image(truncated)


def test_bad_arrays_raise_value_error():
    with pytest.raises(ValueError, match="shape"):
        image_io.load_image(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        image_io.load_image(np.full((4, 4, 3), 300.0))
    with pytest.raises(ValueError, match="NaN"):
        image_io.load_image(np.full((4, 4, 3), np.nan))


def test_float_arrays_and_batches_are_accepted():
    loaded = image_io.load_image(np.full((1, 3, 3, 3), 0.5, np.float32))
    assert loaded.shape == (3, 3, 3) and loaded[0, 0, 0] == 128


def test_resize_crop_and_max_side():
    array = np.zeros((100, 60, 3), np.uint8)
    assert image_io.resize(array, (50, 30)).shape == (50, 30, 3)
    assert image_io.resize_max_side(array, 50).shape == (50, 30, 3)
    marked = np.zeros((10, 10, 3), np.uint8)
    marked[4:6, 4:6] = 255
    np.testing.assert_array_equal(image_io.center_crop(marked, (2, 2)), np.full((2, 2, 3), 255, np.uint8))
    with pytest.raises(ValueError, match="cannot crop"):
        image_io.center_crop(marked, (11, 2))
    assert image_io.load_image(array, size=30).shape == (30, 18, 3)


def test_float_tensor_roundtrip():
    array = np.random.default_rng(1).integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    tensor = image_io.to_float_tensor(array)
    assert tuple(tensor.shape) == (1, 5, 4, 3) and float(tensor.numpy().max()) <= 1.0
    np.testing.assert_array_equal(image_io.from_float_tensor(tensor), array)
    # values outside [0, 1] (optimiser overshoot) are clipped, not wrapped
    assert image_io.from_float_tensor(np.full((1, 2, 2, 3), 1.7))[0, 0, 0] == 255


# ---- bad files: one precise reason each, naming the file -------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type + data (all big-endian)."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_declaring(width: int, height: int) -> bytes:
    """A valid-looking 8-bit RGB PNG header that declares ``width`` x ``height`` pixels, with one
    empty compressed data chunk: a few dozen bytes that would decode to width * height * 3 bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b""))
        + _png_chunk(b"IEND", b"")
    )


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image decoding starts (pixel data is only read by ``ImageFile.load``)."""

    def refuse(self):
        raise AssertionError(f"decoding started for a {self.size} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def test_decompression_bomb_is_refused_from_its_header(tmp_path, no_decoding):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_declaring(50000, 50000))
    assert bomb.stat().st_size < 100  # 2.5 gigapixels declared in 57 bytes
    with pytest.raises(errors.ImageError) as caught:
        image_io.load_image(bomb)
    message = str(caught.value)
    assert str(bomb) in message and "50000x50000 = 2.5 gigapixels" in message
    assert "limit of 100 megapixels" in message and "\n" not in message
    # The file is one line for the command lines: report() prints it and returns exit code 2.
    assert errors.exit_code_for(caught.value) == 2


def test_image_over_our_limit_but_under_pils_is_refused_without_warning(tmp_path, no_decoding):
    # 12000 x 10000 = 120 MP: PIL only warns (its error starts at 179 MP); our limit is 100 MP.
    large = tmp_path / "large.png"
    large.write_bytes(_png_declaring(12000, 10000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning would fail
        with pytest.raises(errors.ImageError, match=r"large.png: image declares 12000x10000 = 120 megapixels"):
            image_io.load_image(large)


def test_limit_is_the_module_setting(tmp_path, monkeypatch):
    path = image_io.save_image(tmp_path / "small.png", np.zeros((30, 40, 3), np.uint8))
    monkeypatch.setattr(image_io, "MAX_PIXELS", 1000)
    with pytest.raises(errors.ImageError, match=r"40x30 = 1200 pixels, more than the limit of 1000 pixels"):
        image_io.load_image(path)
    monkeypatch.setattr(image_io, "MAX_PIXELS", 1200)
    assert image_io.load_image(path).shape == (30, 40, 3)


def test_a_24_megapixel_photo_still_loads(tmp_path):
    path = tmp_path / "camera.png"
    Image.new("RGB", (6000, 4000), (10, 20, 30)).save(path, compress_level=1)
    loaded = image_io.load_image(path)
    assert loaded.shape == (4000, 6000, 3) and tuple(loaded[3999, 5999]) == (10, 20, 30)


def test_describe_pixels():
    assert image_io.describe_pixels(50000 * 50000) == "2.5 gigapixels"
    assert image_io.describe_pixels(6000 * 4000) == "24 megapixels"
    assert image_io.describe_pixels(640) == "640 pixels"


def _message(path) -> str:
    with pytest.raises(errors.ImageError) as caught:
        image_io.load_image(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


def test_folder_empty_file_and_missing_folder_are_named_as_such(tmp_path):
    folder = tmp_path / "holiday.jpg"
    folder.mkdir()
    assert "is a folder, not an image file" in _message(folder)
    assert "not found" not in _message(folder)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert "is empty (0 bytes)" in _message(empty)
    assert _message(tmp_path / "nope.jpg") == f"image file not found: {tmp_path / 'nope.jpg'}"
    assert "the folder" in _message(tmp_path / "no_such_folder" / "x.jpg")


def test_broken_link_and_special_file(tmp_path):
    link = tmp_path / "link.jpg"
    link.symlink_to(tmp_path / "gone.jpg")
    assert "broken symbolic link" in _message(link) and "gone.jpg" in _message(link)
    pipe = tmp_path / "pipe.jpg"
    os.mkfifo(pipe)  # opening it would block: never opened
    assert "not a regular file" in _message(pipe)


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("page.jpg", b"<!DOCTYPE html><html><body>404</body></html>", "HTML page"),
        ("logo.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG drawing"),
        ("scan.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF document"),
        ("photo.jpg", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "HEIC/HEIF photo"),
        ("notes.jpg", b"this is not an image", "it holds text"),
        ("noise.jpg", bytes(range(256)), "its name ends in .jpg but it does not hold JPEG data"),
        ("empty.png", _png_declaring(0, 0), "declares an empty 0x0 image"),
        (
            "header.png",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDRgarbage-garbage",
            "starts like a PNG file, but its header",
        ),
    ],
)
def test_non_images_say_what_they_hold(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    message = _message(path)
    assert message.startswith(f"{path} is not an image: ") and reason in message
    with pytest.raises(errors.ImageError) as raised:  # the same bytes uploaded: the same reason
        image_io.load_image_bytes(content, name)
    assert str(raised.value).startswith(f"{name} is not an image: ") and reason in str(raised.value)


def test_numpy_array_file_is_recognised(tmp_path):
    path = tmp_path / "face.png"
    with open(path, "wb") as handle:
        np.save(handle, np.zeros((4, 4, 3)))
    assert "NumPy .npy array" in _message(path)


def test_truncated_files_name_format_and_size(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:300])
    assert "the PNG image of 64x64 is truncated or corrupt" in _message(truncated)
    # a content/extension mismatch alone is not an error: PIL reads by content
    misnamed = tmp_path / "really_a_png.jpg"
    misnamed.write_bytes(good.read_bytes())
    np.testing.assert_array_equal(image_io.load_image(misnamed), image_io.load_image(good))


def test_permission_denied_is_said(tmp_path, monkeypatch):
    path = image_io.save_image(tmp_path / "secret.png", np.zeros((4, 4, 3), np.uint8))
    if os.geteuid() != 0:  # root reads anything: simulate it then
        path.chmod(0)
    else:

        def denied(file, *args, **kwargs):
            raise PermissionError(13, "Permission denied", str(file))

        monkeypatch.setattr(image_io.Image, "open", denied)
    message = _message(path)
    assert "permission denied" in message and "truncated" not in message


def test_save_image_checks_extension_and_place_before_writing(tmp_path):
    with pytest.raises(errors.UsageError, match=r"out.txt: PIL writes no image format with the extension '.txt'"):
        image_io.save_image(tmp_path / "out.txt", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(errors.UsageError, match="is a folder"):
        image_io.save_image(tmp_path / "folder.png", np.zeros((4, 4, 3), np.uint8))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["folder.png"]
    no_suffix = image_io.save_image(tmp_path / "plain", np.zeros((4, 4, 3), np.uint8))
    assert Image.open(no_suffix).format == "PNG"
