"""Tests for utils.feature_visualization with a tiny random convnet (no pretrained weights)."""

import keras
import numpy as np

from utils import feature_visualization


def _model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    return keras.Model(inputs, {"conv": features})


def test_gradient_ascent_increases_the_unit():
    model = _model()
    units = [0, 2]
    images = feature_visualization.visualize_units(model, "conv", units, size=24, steps=15, octaves=2,
                                                   progress=False)
    assert images.shape == (2, 24, 24, 3) and images.dtype == np.uint8
    gray = np.full((2, 24, 24, 3), 128, np.uint8)
    after = feature_visualization.unit_activations(model, "conv", images, units)
    before = feature_visualization.unit_activations(model, "conv", gray, units)
    assert np.all(after > before + 0.05)


def test_bad_unit_raises():
    import pytest

    with pytest.raises(ValueError):
        feature_visualization.visualize_units(_model(), "conv", [9], size=16, steps=1, octaves=1, progress=False)
