"""Tests for utils.unit_patches with a hand-made "model" (a plain function, no weights needed)."""

import numpy as np
import pytest

from utils import unit_patches
from utils.receptive_field import ReceptiveField


def _model(batch):
    """Two units on a 1x1 field: unit 0 = red channel, unit 1 = green channel (values in [0, 1])."""
    return {"layer": batch[..., :2]}


def _images():
    images = np.zeros((4, 8, 8, 3), np.uint8)
    images[1, 2, 5, 0] = 200      # brightest red at (2, 5) of image 1
    images[3, 6, 1, 0] = 100
    images[2, 0, 0, 1] = 250      # brightest green at (0, 0) of image 2
    return images


def test_activation_maxima_values_and_positions():
    maxima = unit_patches.activation_maxima(_model, _images(), ["layer"], batch_size=3, progress=False)["layer"]
    assert maxima.feature_shape == (8, 8) and maxima.n_units == 2
    np.testing.assert_allclose(maxima.values[:, 0], [0, 200 / 255, 0, 100 / 255], rtol=1e-6)
    assert maxima.positions[1, 0].tolist() == [2, 5]
    assert maxima.positions[2, 1].tolist() == [0, 0]


def test_top_patches_order_and_crops():
    images = _images()
    maxima = unit_patches.activation_maxima(_model, images, ["layer"], progress=False)["layer"]
    field = ReceptiveField("layer", (3, 3), (1, 1), (0.0, 0.0))
    found = unit_patches.top_patches(maxima, images, field, unit=0, top_k=2)
    assert found.image_indices.tolist() == [1, 3]
    assert found.boxes[0] == ((1, 4), (4, 7))
    assert found.patches[0].shape == (3, 3, 3) and found.patches[0][1, 1, 0] == 200
    green = unit_patches.top_patches(maxima, images, field, unit=1, top_k=1)
    assert green.patches[0][0, 0, 0] == 128      # outside the image: gray padding
    with pytest.raises(ValueError):
        unit_patches.top_patches(maxima, images, field, unit=2)


def test_crop_box_and_grid():
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    np.testing.assert_array_equal(unit_patches.crop_box(image, ((1, 3), (0, 2))), image[1:3, 0:2])
    assert unit_patches.patch_grid([image] * 7, columns=3, size=10, gap=2).shape == (34, 34, 3)


def test_pick_units_skips_dead_units():
    maxima = unit_patches.LayerMaxima("l", np.array([[0.0, 1.0, 0.0, 2.0]], np.float32),
                                      np.zeros((1, 4, 2), np.int32), (1, 1))
    assert unit_patches.pick_units(maxima, 5) == [1, 3]


def test_bad_images_raise():
    with pytest.raises(ValueError):
        unit_patches.activation_maxima(_model, np.zeros((2, 8, 8)), ["layer"], progress=False)
    with pytest.raises(ValueError):
        unit_patches.activation_maxima(_model, np.zeros((2, 8, 8, 3), np.uint8), ["other"], progress=False)
