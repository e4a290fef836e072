"""Tests for utils.convnets.arithmetic: hand-computed sizes, counts and receptive fields of known
networks, checked against Keras layers and models.

The Keras comparisons build layers and architectures with random weights (weights=None): shapes,
parameter counts and receptive fields depend only on the layer configuration. One test uses the
project's VGG19 extractor with its real weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils.convnets import arithmetic
from utils.convnets.arithmetic import LayerSpec
from utils.errors import UsageError


@pytest.mark.parametrize(
    "n, f, s, padding, expected",
    [
        (14, 5, 1, "valid", 10),
        (32, 4, 1, "valid", 29),
        (6, 3, 1, 1, 6),
        (224, 11, 4, 2, 55),  # AlexNet conv1 at 224 px with 2 pixels of padding
        (227, 11, 4, "valid", 55),
        (8, 3, 2, 0, 3),  # floor: the last window does not fit
        (7, 7, 1, "valid", 1),
        (150, 7, 2, "same", 75),
        (75, 3, 2, "same", 38),
    ],
)
def test_output_length_hand_values(n, f, s, padding, expected):
    assert arithmetic.conv_output_length(n, f, s, padding) == expected


def test_dilation_widens_the_window():
    # a 3-tap kernel with dilation 2 spans 5 inputs
    assert arithmetic.conv_output_length(10, 3, 1, "valid", dilation=2) == 6


def test_same_padding_split_matches_tensorflow_rule():
    assert arithmetic.same_padding(224, 3) == (1, 1)
    assert arithmetic.same_padding(150, 7, 2) == (2, 3)
    assert arithmetic.same_padding(4, 2, 2) == (0, 0)


@pytest.mark.parametrize(
    "layer_class, input_shape, filters, kernel, strides, padding",
    [
        (keras.layers.Conv1D, (14, 1), 16, 5, 1, "valid"),
        (keras.layers.Conv1D, (500, 1), 16, 7, 3, "same"),
        (keras.layers.Conv2D, (37, 29, 3), 8, (3, 5), (2, 1), "valid"),
        (keras.layers.Conv2D, (37, 29, 3), 8, 4, 3, "same"),
        (keras.layers.Conv3D, (32, 32, 32, 3), 16, 4, 1, "valid"),
        (keras.layers.Conv3D, (17, 16, 15, 2), 4, (3, 2, 1), 2, "same"),
    ],
)
def test_shapes_and_params_match_keras(layer_class, input_shape, filters, kernel, strides, padding):
    layer = layer_class(filters, kernel, strides=strides, padding=padding)
    output = layer(keras.Input(input_shape))
    assert arithmetic.conv_output_shape(input_shape, filters, kernel, strides, padding) == tuple(output.shape[1:])
    rank = len(input_shape) - 1
    kernels = kernel if isinstance(kernel, tuple) else (kernel,) * rank
    assert arithmetic.conv_param_count(kernels, input_shape[-1], filters) == layer.count_params()


def test_pooling_keeps_channels():
    pool = keras.layers.MaxPooling3D(2)
    output = pool(keras.Input((9, 8, 7, 5)))
    assert arithmetic.conv_output_shape((9, 8, 7, 5), None, 2, 2) == tuple(output.shape[1:]) == (4, 4, 3, 5)


def test_param_counts_by_hand():
    assert arithmetic.conv_param_count(5, 1, 16, rank=1) == 96
    assert arithmetic.conv_param_count((4, 4, 4), 3, 16) == 3088
    assert arithmetic.conv_param_count((3, 3), 64, 128, use_bias=False) == 73728
    assert arithmetic.dense_param_count(14, 160) == 2400


@pytest.mark.parametrize(
    "call",
    [
        lambda: arithmetic.conv_output_length(3, 5),  # window larger than input
        lambda: arithmetic.conv_output_length(10, 3, padding="full"),
        lambda: arithmetic.conv_output_length(10, 0),
        lambda: arithmetic.conv_output_length(10.0, 3),
        lambda: arithmetic.conv_output_length(10, 3, padding=-1),
        lambda: arithmetic.conv_output_shape((10,), 4, 3),  # no channel axis
        lambda: arithmetic.conv_output_shape((10, 10, 3), 4, (3, 3, 3)),  # kernel rank mismatch
        lambda: arithmetic.conv_param_count(3, 3, 8),  # int kernel without rank
        lambda: arithmetic.conv_param_count((3, 3), 3, 8, rank=3),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


# Receptive fields
# ----------------------------------------------------------------------------------------------


def test_single_steps_by_hand():
    assert arithmetic.receptive_field_step(1, 1, 0.0, 3, 1, 1) == (3, 1, 0.0)
    assert arithmetic.receptive_field_step(5, 1, 0.0, 2, 2, 0) == (6, 2, 0.5)
    assert arithmetic.receptive_field_step(1, 1, 0.0, 11, 4, 0) == (11, 4, 5.0)
    assert arithmetic.receptive_field_step(7, 2, 1.0, 1, 1, 0) == (7, 2, 1.0)  # 1x1 conv changes nothing


def test_alexnet_chain():
    # AlexNet (Krizhevsky et al. 2012): field sizes 11, 19, 51, 67, 99, 131, 163, 195 by hand
    layers = [
        LayerSpec("conv1", 11, 4, 0),
        LayerSpec("pool1", 3, 2, 0),
        LayerSpec("conv2", 5, 1, 2),
        LayerSpec("pool2", 3, 2, 0),
        LayerSpec("conv3", 3, 1, 1),
        LayerSpec("conv4", 3, 1, 1),
        LayerSpec("conv5", 3, 1, 1),
        LayerSpec("pool5", 3, 2, 0),
    ]
    fields = arithmetic.receptive_fields(layers)
    assert [fields[name].size[0] for name in fields] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert [fields[name].jump[0] for name in fields] == [4, 8, 8, 16, 16, 16, 16, 32]
    # start: 5 (conv1), 9 (pool1), 9, 17 (pool2), 17, 17, 17, 33 (pool5)
    assert fields["pool5"].start == (33.0, 33.0)


def test_vgg16_known_fields():
    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(224, 224, 3))
    fields = arithmetic.model_receptive_fields(model)
    expected = {
        "block1_conv1": 3,
        "block1_conv2": 5,
        "block1_pool": 6,
        "block2_conv2": 14,
        "block3_conv3": 40,
        "block4_conv3": 92,
        "block5_conv3": 196,
        "block5_pool": 212,
    }
    assert {name: fields[name].size[0] for name in expected} == expected
    assert fields["block5_pool"].jump == (32, 32)
    assert fields["block3_conv3"].start == (1.5, 1.5)


def test_vgg19_block3_conv4_is_48():
    """VGG19's architecture from keras.applications, built with random weights."""
    model = keras.applications.VGG19(include_top=False, weights=None)
    fields = arithmetic.model_receptive_fields(model)
    assert fields["block3_conv4"].size == (48, 48) and fields["block3_conv4"].jump == (4, 4)


def test_real_vgg19_extractor():
    """The project's VGG19 extractor (real ImageNet weights) walks through its preprocessing layer."""
    from utils.nst.vgg import build_extractor

    extractor = build_extractor(["block1_conv2", "block3_conv4"])
    fields = arithmetic.model_receptive_fields(extractor.model)
    assert fields["block1_conv2"].size == (5, 5)
    assert fields["block3_conv4"].size == (48, 48)


@pytest.mark.slow
def test_resnet50_known_field():
    model = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(224, 224, 3))
    fields = arithmetic.model_receptive_fields(model)
    assert fields["conv5_block3_out"].size == (483, 483)
    assert fields["conv5_block3_out"].jump == (32, 32)


def test_same_padding_with_stride_needs_input_size():
    with pytest.raises(ValueError, match="input size"):
        arithmetic.receptive_fields([LayerSpec("c", 3, 2, "same")])
    fields = arithmetic.receptive_fields([LayerSpec("c", 7, 2, "same")], input_size=150)
    assert fields["c"].start == (1.0, 1.0)  # TF pads 2 before: centre at 3 - 2


def test_box_and_center():
    field = arithmetic.ReceptiveField("x", (48, 48), (4, 4), (1.5, 1.5))
    assert field.center((0, 2)) == (1.5, 9.5)
    assert field.box((0, 2)) == ((-22, 26), (-14, 34))
    with pytest.raises(ValueError):
        field.box((1,))


def _gradient_support(model, input_shape, position):
    """Pixels whose gradient on the unit at ``position`` is non-zero (a linear model, so exact)."""
    image = tf.Variable(np.random.default_rng(0).normal(size=(1, *input_shape)).astype(np.float32))
    with tf.GradientTape() as tape:
        output = model(image)
        unit = output[0, position[0], position[1], 0]
    gradient = np.abs(tape.gradient(unit, image).numpy()[0]).sum(axis=-1)
    rows, columns = np.nonzero(gradient)
    return (rows.min(), rows.max() + 1), (columns.min(), columns.max() + 1)


@pytest.mark.parametrize("position", [(3, 4), (5, 5)])
def test_matches_gradient_support(position):
    """A small linear model with random weights: the analytic box equals where gradients reach."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64, 64, 2)),
            keras.layers.Conv2D(4, 5, strides=2, padding="same"),
            keras.layers.AveragePooling2D(3, strides=2, padding="valid"),
            keras.layers.ZeroPadding2D(1),
            keras.layers.Conv2D(3, 3, padding="valid", dilation_rate=2),
        ]
    )
    field = arithmetic.model_receptive_fields(model)[model.layers[-1].name]
    assert _gradient_support(model, (64, 64, 2), position) == field.box(position)


def test_add_takes_the_union_of_branches():
    inputs = keras.Input((32, 32, 1))
    wide = keras.layers.Conv2D(1, 5, padding="same")(inputs)
    narrow = keras.layers.Conv2D(1, 1)(inputs)
    merged = keras.layers.Add(name="add")([wide, narrow])
    fields = arithmetic.model_receptive_fields(keras.Model(inputs, merged))
    assert fields["add"].size == (5, 5) and fields["add"].start == (0.0, 0.0)


def test_upsampling_is_rejected():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.UpSampling2D(2)])
    with pytest.raises(ValueError, match="up-sampling"):
        arithmetic.model_receptive_fields(model)


def test_step_rejects_bad_input():
    with pytest.raises(ValueError):
        arithmetic.receptive_field_step(1, 1, 0.0, 0, 1, 0)
    with pytest.raises(ValueError):
        arithmetic.receptive_field_step(1, 1, 0.0, 3, 1, -1)


def test_errors_are_usage_errors_with_the_value_in_the_message():
    with pytest.raises(UsageError, match="does not fit in an input of 3"):
        arithmetic.conv_output_length(3, 5)
    with pytest.raises(UsageError, match="'full'"):
        arithmetic.conv_output_length(10, 3, padding="full")


def test_importing_the_package_does_not_start_tensorflow():
    import subprocess
    import sys

    from utils import config

    code = (
        "import sys, utils.convnets; "
        "print(sorted(name for name in ('tensorflow', 'keras', 'matplotlib') if name in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=config.REPO_ROOT
    )
    assert result.stdout.strip() == "[]"
