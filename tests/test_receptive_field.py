"""Tests for utils.receptive_field with hand-computed values of known networks.

The Keras-model tests build architectures with random weights (weights=None): receptive fields
depend only on the layer configuration.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils import receptive_field as rf
from utils.receptive_field import LayerSpec


def test_single_steps_by_hand():
    assert rf.receptive_field_step(1, 1, 0.0, 3, 1, 1) == (3, 1, 0.0)
    assert rf.receptive_field_step(5, 1, 0.0, 2, 2, 0) == (6, 2, 0.5)
    assert rf.receptive_field_step(1, 1, 0.0, 11, 4, 0) == (11, 4, 5.0)
    assert rf.receptive_field_step(7, 2, 1.0, 1, 1, 0) == (7, 2, 1.0)   # 1x1 conv changes nothing


def test_alexnet_chain():
    # AlexNet (Krizhevsky et al. 2012): field sizes 11, 19, 51, 67, 99, 131, 163, 195 by hand
    layers = [LayerSpec("conv1", 11, 4, 0), LayerSpec("pool1", 3, 2, 0), LayerSpec("conv2", 5, 1, 2),
              LayerSpec("pool2", 3, 2, 0), LayerSpec("conv3", 3, 1, 1), LayerSpec("conv4", 3, 1, 1),
              LayerSpec("conv5", 3, 1, 1), LayerSpec("pool5", 3, 2, 0)]
    fields = rf.receptive_fields(layers)
    assert [fields[name].size[0] for name in fields] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert [fields[name].jump[0] for name in fields] == [4, 8, 8, 16, 16, 16, 16, 32]
    # start: 5 (conv1), 9 (pool1), 9, 17 (pool2), 17, 17, 17, 33 (pool5)
    assert fields["pool5"].start == (33.0, 33.0)


def test_vgg16_known_fields():
    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(224, 224, 3))
    fields = rf.model_receptive_fields(model)
    expected = {"block1_conv1": 3, "block1_conv2": 5, "block1_pool": 6, "block2_conv2": 14,
                "block3_conv3": 40, "block4_conv3": 92, "block5_conv3": 196, "block5_pool": 212}
    assert {name: fields[name].size[0] for name in expected} == expected
    assert fields["block5_pool"].jump == (32, 32)
    assert fields["block3_conv3"].start == (1.5, 1.5)


def test_vgg19_block3_conv4_is_48():
    """VGG19's layer list from utils.vgg, built with random weights."""
    from utils import vgg

    inputs = keras.Input((None, None, 3))
    tensor = inputs
    for name, filters in vgg.ARCHITECTURE[:11]:
        tensor = (keras.layers.Conv2D(filters, 3, padding="same", name=name) if filters
                  else keras.layers.MaxPooling2D(2, name=name))(tensor)
    fields = rf.model_receptive_fields(keras.Model(inputs, tensor))
    assert fields["block3_conv4"].size == (48, 48) and fields["block3_conv4"].jump == (4, 4)


def test_real_vgg19_extractor():
    """The project's VGG19 extractor (real ImageNet weights) walks through its preprocessing layer."""
    from utils import vgg

    extractor = vgg.build_extractor(["block1_conv2", "block3_conv4"])
    fields = rf.model_receptive_fields(extractor.model)
    assert fields["block1_conv2"].size == (5, 5)
    assert fields["block3_conv4"].size == (48, 48)


@pytest.mark.slow
def test_resnet50_known_field():
    model = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(224, 224, 3))
    fields = rf.model_receptive_fields(model)
    assert fields["conv5_block3_out"].size == (483, 483)
    assert fields["conv5_block3_out"].jump == (32, 32)


def test_same_padding_with_stride_needs_input_size():
    with pytest.raises(ValueError, match="input size"):
        rf.receptive_fields([LayerSpec("c", 3, 2, "same")])
    fields = rf.receptive_fields([LayerSpec("c", 7, 2, "same")], input_size=150)
    assert fields["c"].start == (1.0, 1.0)          # TF pads 2 before: centre at 3 - 2


def test_box_and_center():
    field = rf.ReceptiveField("x", (48, 48), (4, 4), (1.5, 1.5))
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
    model = keras.Sequential([
        keras.Input((64, 64, 2)),
        keras.layers.Conv2D(4, 5, strides=2, padding="same"),
        keras.layers.AveragePooling2D(3, strides=2, padding="valid"),
        keras.layers.ZeroPadding2D(1),
        keras.layers.Conv2D(3, 3, padding="valid", dilation_rate=2),
    ])
    field = rf.model_receptive_fields(model)[model.layers[-1].name]
    assert _gradient_support(model, (64, 64, 2), position) == field.box(position)


def test_add_takes_the_union_of_branches():
    inputs = keras.Input((32, 32, 1))
    wide = keras.layers.Conv2D(1, 5, padding="same")(inputs)
    narrow = keras.layers.Conv2D(1, 1)(inputs)
    merged = keras.layers.Add(name="add")([wide, narrow])
    fields = rf.model_receptive_fields(keras.Model(inputs, merged))
    assert fields["add"].size == (5, 5) and fields["add"].start == (0.0, 0.0)


def test_upsampling_is_rejected():
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.UpSampling2D(2)])
    with pytest.raises(ValueError, match="up-sampling"):
        rf.model_receptive_fields(model)


def test_step_rejects_bad_input():
    with pytest.raises(ValueError):
        rf.receptive_field_step(1, 1, 0.0, 0, 1, 0)
    with pytest.raises(ValueError):
        rf.receptive_field_step(1, 1, 0.0, 3, 1, -1)
