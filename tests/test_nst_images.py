"""Tests of utils.nst.images: fitting style images, and colour preservation in YIQ."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from utils.errors import NSTError
from utils.nst import images


def test_style_image_scaling_fills_the_target_size():
    style = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    for scale in (0.3, 1.0, 2.5):
        assert images.prepare_style_image(style, 40, 60, scale).shape == (40, 60, 3)
    with pytest.raises(NSTError, match="style scale"):
        images.prepare_style_image(style, 40, 60, 0.0)


def test_style_smaller_than_the_output_is_mirror_tiled():
    """Scale 0.5 of a 4x4 style covering 4x4: a 2x2 tile mirrored across and down."""
    style = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3) * 5
    fitted = images.prepare_style_image(style, 4, 4, 0.5)
    tile = fitted[:2, :2]
    np.testing.assert_array_equal(fitted[:2, 2:], tile[:, ::-1])
    np.testing.assert_array_equal(fitted[2:, :2], tile[::-1, ::-1])


def test_luminance_image_is_gray_in_0_1_and_matches_statistics():
    rgb = (np.random.default_rng(0).uniform(0, 1, (6, 7, 3)) * 255).astype(np.uint8)
    gray = images.luminance_image(rgb)
    assert gray.shape == (6, 7, 3) and gray.dtype == np.float32
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 0], gray[..., 2])
    np.testing.assert_allclose(gray[..., 0], rgb.astype(np.float32) @ [0.299, 0.587, 0.114] / 255.0, atol=1e-5)
    reference = (np.random.default_rng(1).uniform(0.3, 0.6, (5, 5, 3)) * 255).astype(np.uint8)
    matched = images.luminance_image(rgb, match_to=reference)[..., 0]
    reference_y = images.luminance_image(reference)[..., 0]
    assert matched.mean() == pytest.approx(reference_y.mean(), abs=1e-4)
    assert matched.std() == pytest.approx(reference_y.std(), rel=1e-3)


def test_combine_luminance_by_hand_and_round_trip():
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 0] = 200
    gray = np.full((1, 1, 3), 100, np.uint8)
    # Y = 100/255 = 0.392 with red's I = 0.596 * 0.784, Q = 0.212 * 0.784 -> R 0.942, G 0.158, B 0.158
    assert images.combine_luminance(gray, red)[0, 0].tolist() == [240, 40, 40]
    # an image's own luminance and chrominance give the image back (the conversions invert)
    rgb = (np.random.default_rng(0).uniform(0, 1, (4, 5, 3)) * 255).astype(np.uint8)
    assert np.abs(images.combine_luminance(rgb, rgb).astype(int) - rgb).max() <= 1


def test_combine_luminance_keeps_the_colour_source_chrominance():
    rng = np.random.default_rng(2)
    colour = (rng.uniform(0.2, 0.8, (8, 8, 3)) * 255).astype(np.uint8)
    lightness = (rng.uniform(0.3, 0.7, (8, 8, 3)) * 255).astype(np.uint8)
    combined = images.combine_luminance(lightness, colour)
    yiq = tf.image.rgb_to_yiq(combined / 255.0).numpy()
    np.testing.assert_allclose(yiq[..., 1:], tf.image.rgb_to_yiq(colour / 255.0).numpy()[..., 1:], atol=0.01)
    np.testing.assert_allclose(yiq[..., 0], tf.image.rgb_to_yiq(lightness / 255.0).numpy()[..., 0], atol=0.01)
