"""Tests for utils.faces.chip_cache: the cache file's name, a cache hit without MTCNN, and a
damaged cache file. (The real detect -> cache -> reuse cycle runs in tests/test_faces_lfw.py.)"""

import numpy as np
import pytest

from utils import image_io
from utils.faces import align, chip_cache


def test_cache_file_name_changes_with_policy_and_alignment_settings(tmp_path, monkeypatch):
    central = chip_cache.cache_path("central", tmp_path)
    assert central.parent == tmp_path and central.name.startswith("face_chips_central_")
    assert chip_cache.cache_path("central", tmp_path) == central  # stable
    assert chip_cache.cache_path("largest", tmp_path).name.startswith("face_chips_largest_")
    monkeypatch.setattr(align, "MIN_CONFIDENCE", 0.5)
    assert chip_cache.cache_path("central", tmp_path) != central


def test_cached_chips_are_served_without_detection(tmp_path, monkeypatch):
    image = tmp_path / "face.png"
    image_io.save_image(image, np.full((60, 50, 3), 90, np.uint8))
    chip = np.random.default_rng(0).integers(0, 256, (150, 150, 3), dtype=np.uint8)
    cache_file = chip_cache.cache_path("central", tmp_path / "cache")
    chip_cache._write_cache(cache_file, {chip_cache._file_key(image): (chip, True)})

    def no_detection(*args, **kwargs):
        raise AssertionError("MTCNN must not run on a cache hit")

    monkeypatch.setattr(align, "detect_faces_batch", no_detection)
    chips, found = chip_cache.load_face_chips([image, image], cache_dir=tmp_path / "cache")
    assert chips.shape == (2, 150, 150, 3) and found.tolist() == [True, True]
    np.testing.assert_array_equal(chips[1], chip)
    assert [item.name for item in cache_file.parent.iterdir()] == [cache_file.name]  # no temporaries left


def test_damaged_cache_file_is_ignored_with_a_warning(tmp_path):
    cache_file = chip_cache.cache_path("central", tmp_path)
    cache_file.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="ignoring unreadable chip cache"):
        assert chip_cache._read_cache(cache_file) == {}


def test_missing_image_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.jpg"):
        chip_cache.load_face_chips([tmp_path / "absent.jpg"], cache_dir=tmp_path)
