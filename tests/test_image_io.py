"""utils.image_io on generated files of every PIL mode, EXIF orientation, and bad files."""

import numpy as np
import pytest
from PIL import Image

from utils import image_io


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
        assert loaded.min() == 255                 # full-scale 16-bit maps to white
    if mode == "F":
        assert loaded[0, 0, 0] == 128
    if mode == "L":
        assert len(set(loaded[0, 0])) == 1         # gray replicated to 3 channels


def test_rgba_transparency_composited_over_white(tmp_path):
    array = np.zeros((2, 2, 4), np.uint8)
    array[0, 0] = (255, 0, 0, 255)                 # opaque red
    path = _save(tmp_path, "a.png", Image.fromarray(array, "RGBA"))
    loaded = image_io.load_image(path)
    assert tuple(loaded[0, 0]) == (255, 0, 0)
    assert tuple(loaded[1, 1]) == (255, 255, 255)  # fully transparent -> white


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 20, 20))   # left half white
    exif = Image.Exif()
    exif[0x0112] = 6                               # "rotate 90 CW to display"
    path = _save(tmp_path, "rot.jpg", image, exif=exif.tobytes(), quality=95)
    loaded = image_io.load_image(path)
    assert loaded.shape == (40, 20, 3)             # portrait after rotation
    assert loaded[5, 10].mean() > 200 and loaded[35, 10].mean() < 50   # white half on top


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
