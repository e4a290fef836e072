"""Tests for utils.conv_arithmetic: hand-computed sizes and counts, checked against Keras layers.

The Keras comparisons build small layers with random weights (no pretrained weights needed).
"""

import keras
import pytest

from utils import conv_arithmetic as ca


@pytest.mark.parametrize("n, f, s, padding, expected", [
    (14, 5, 1, "valid", 10),
    (32, 4, 1, "valid", 29),
    (6, 3, 1, 1, 6),
    (224, 11, 4, 2, 55),      # AlexNet conv1 at 224 px with 2 pixels of padding
    (227, 11, 4, "valid", 55),
    (8, 3, 2, 0, 3),          # floor: the last window does not fit
    (7, 7, 1, "valid", 1),
    (150, 7, 2, "same", 75),
    (75, 3, 2, "same", 38),
])
def test_output_length_hand_values(n, f, s, padding, expected):
    assert ca.conv_output_length(n, f, s, padding) == expected


def test_dilation_widens_the_window():
    # a 3-tap kernel with dilation 2 spans 5 inputs
    assert ca.conv_output_length(10, 3, 1, "valid", dilation=2) == 6


def test_same_padding_split_matches_tensorflow_rule():
    assert ca.same_padding(224, 3) == (1, 1)
    assert ca.same_padding(150, 7, 2) == (2, 3)
    assert ca.same_padding(4, 2, 2) == (0, 0)


@pytest.mark.parametrize("layer_class, input_shape, filters, kernel, strides, padding", [
    (keras.layers.Conv1D, (14, 1), 16, 5, 1, "valid"),
    (keras.layers.Conv1D, (500, 1), 16, 7, 3, "same"),
    (keras.layers.Conv2D, (37, 29, 3), 8, (3, 5), (2, 1), "valid"),
    (keras.layers.Conv2D, (37, 29, 3), 8, 4, 3, "same"),
    (keras.layers.Conv3D, (32, 32, 32, 3), 16, 4, 1, "valid"),
    (keras.layers.Conv3D, (17, 16, 15, 2), 4, (3, 2, 1), 2, "same"),
])
def test_shapes_and_params_match_keras(layer_class, input_shape, filters, kernel, strides, padding):
    layer = layer_class(filters, kernel, strides=strides, padding=padding)
    output = layer(keras.Input(input_shape))
    assert ca.conv_output_shape(input_shape, filters, kernel, strides, padding) == tuple(output.shape[1:])
    rank = len(input_shape) - 1
    kernels = kernel if isinstance(kernel, tuple) else (kernel,) * rank
    assert ca.conv_param_count(kernels, input_shape[-1], filters) == layer.count_params()


def test_pooling_keeps_channels():
    pool = keras.layers.MaxPooling3D(2)
    output = pool(keras.Input((9, 8, 7, 5)))
    assert ca.conv_output_shape((9, 8, 7, 5), None, 2, 2) == tuple(output.shape[1:]) == (4, 4, 3, 5)


def test_param_counts_by_hand():
    assert ca.conv_param_count(5, 1, 16, rank=1) == 96
    assert ca.conv_param_count((4, 4, 4), 3, 16) == 3088
    assert ca.conv_param_count((3, 3), 64, 128, use_bias=False) == 73728
    assert ca.dense_param_count(14, 160) == 2400


@pytest.mark.parametrize("call", [
    lambda: ca.conv_output_length(3, 5),                     # window larger than input
    lambda: ca.conv_output_length(10, 3, padding="full"),
    lambda: ca.conv_output_length(10, 0),
    lambda: ca.conv_output_length(10.0, 3),
    lambda: ca.conv_output_length(10, 3, padding=-1),
    lambda: ca.conv_output_shape((10,), 4, 3),                # no channel axis
    lambda: ca.conv_output_shape((10, 10, 3), 4, (3, 3, 3)),  # kernel rank mismatch
    lambda: ca.conv_param_count(3, 3, 8),                     # int kernel without rank
    lambda: ca.conv_param_count((3, 3), 3, 8, rank=3),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()
