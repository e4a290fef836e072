"""Tests of utils.vgg: truncation, by-name loading of the real ImageNet weights, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from utils import assets, vgg

PARTIAL = assets.find("vgg19_partial")
needs_partial = pytest.mark.skipif(PARTIAL is None, reason="asset vgg19_partial not found")


def test_output_shapes_and_minimum_size_by_hand():
    # 3 pools before block4_conv1: 400 -> 200 -> 100 -> 50
    assert vgg.output_shape("block4_conv1", 400, 300) == (50, 37, 512)
    assert vgg.output_shape("block1_pool", 5, 7) == (2, 3, 64)
    assert vgg.minimum_input_size(["block1_conv1"]) == 1
    assert vgg.minimum_input_size(["block3_conv2", "block1_conv1"]) == 4
    assert vgg.minimum_input_size(["block5_conv4"]) == 16
    assert vgg.deepest_layer(["block3_conv1", "block1_conv2", "block2_pool"]) == "block3_conv1"


def test_unknown_layer_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown VGG19 layer.*block9_conv1.*block1_conv1"):
        vgg.deepest_layer(["block9_conv1"])


@needs_partial
def test_extractor_is_truncated_and_matches_keras_vgg19_on_the_same_weights():
    """Keras' VGG19(weights=None) + load_weights(partial, by_name=True) vs our truncated model."""
    import keras

    extractor = vgg.build_extractor(["block1_conv1", "block3_conv4", "block2_pool"])
    assert extractor.built_layers[-1] == "block3_conv4"
    assert [layer.name for layer in extractor.model.layers if layer.name.startswith("block4")] == []
    assert set(extractor(np.zeros((1, 16, 16, 3), np.float32))) == {"block1_conv1", "block3_conv4", "block2_pool"}

    reference = keras.applications.VGG19(include_top=False, weights=None, input_shape=(48, 40, 3))
    reference.load_weights(str(PARTIAL), by_name=True)
    names = ["block1_conv1", "block2_pool", "block3_conv4"]
    reference_model = keras.Model(reference.input, [reference.get_layer(n).output for n in names])
    image = np.random.default_rng(1).uniform(0, 1, (1, 48, 40, 3)).astype(np.float32)
    expected = reference_model(keras.applications.vgg19.preprocess_input(image * 255.0))
    ours = extractor(image)
    for name, value in zip(names, expected):
        np.testing.assert_allclose(ours[name].numpy(), np.asarray(value), rtol=1e-4,
                                   atol=1e-5 * float(np.abs(value).max()))
    # real ImageNet weights, not random ones: a known value of the file
    kernel = extractor.model.get_layer("block1_conv1").get_weights()[0]
    assert kernel.shape == (3, 3, 3, 64)
    provenance = extractor.provenance()
    assert provenance["weights_file"] == str(PARTIAL) or assets.find("vgg19_full") is not None
    assert provenance["random_layers"] == []
    assert provenance["truncated_at"] == "block3_conv4"


@needs_partial
def test_read_weights_by_name_matches_h5():
    import h5py

    weights = vgg.read_weights(PARTIAL, ["block2_conv1"])
    with h5py.File(PARTIAL, "r") as handle:
        kernel = np.asarray(handle["block2_conv1"]["block2_conv1"]["kernel:0"])
    np.testing.assert_array_equal(weights["block2_conv1"][0], kernel)
    assert set(vgg.file_layers(PARTIAL)) == set(vgg.CONV_LAYER_NAMES[:8])


@needs_partial
@pytest.mark.skipif(assets.find("vgg19_full") is not None, reason="the full VGG19 file is present")
def test_missing_block4_weights_raise_naming_the_layers_and_the_full_asset():
    with pytest.raises(vgg.MissingWeightsError) as caught:
        vgg.build_extractor(["block1_conv1", "block4_conv2"])
    message = str(caught.value)
    assert "block4_conv1, block4_conv2" in message and "vgg19_full" in message
    assert "block3_conv1" not in message.split("holds only")[0]


@needs_partial
def test_random_weights_only_when_asked_and_recorded():
    """Random blocks 4 weights exist only with allow_random_weights=True, and are recorded."""
    extractor = vgg.build_extractor(["block4_conv1"], allow_random_weights=True)
    provenance = extractor.provenance()
    if assets.find("vgg19_full") is None:
        assert provenance["random_layers"] == ["block4_conv1"]
        assert provenance["weights_kind"].endswith("+random")


def test_activation_memory_estimate_grows_with_size():
    small = vgg.estimate_activation_bytes(["block3_conv1"], 100, 100)
    large = vgg.estimate_activation_bytes(["block3_conv1"], 200, 200)
    assert 3.9 < large / small < 4.1
    assert vgg.available_memory_bytes() is None or vgg.available_memory_bytes() > 0
