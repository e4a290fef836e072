"""Tests of utils.nst.vgg: Keras' VGG19, ImageNet weights loaded by name, truncation, clear errors.

Tests marked ``needs_partial`` use the real partial ImageNet file (asset ``vgg19_partial``). The
others run without any weights: they write a tiny legacy-layout HDF5 file holding one layer with
known numbers, which is enough to check loading by name, preprocessing and the missing-layer check.
"""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from conftest import FULL, PARTIAL, needs_partial
from utils import assets
from utils.errors import AssetError, MissingWeightsError, NSTError
from utils.nst import vgg

IMAGENET_BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)


def write_legacy_h5(path, layers: dict) -> None:
    """A Keras-2 style weight file: ``{layer: (kernel, bias)}``, one group per layer."""
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = [name.encode() for name in layers]
        for name, (kernel, bias) in layers.items():
            group = handle.create_group(name)
            group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            group.create_dataset(f"{name}/kernel:0", data=kernel)
            group.create_dataset(f"{name}/bias:0", data=bias)


@pytest.fixture(scope="module")
def one_layer_file(tmp_path_factory):
    """A weight file with block1_conv1 only, seeded random numbers; returns (path, kernel, bias)."""
    rng = np.random.default_rng(5)
    kernel = rng.normal(0, 0.01, (3, 3, 3, 64)).astype(np.float32)
    bias = rng.normal(0, 0.1, 64).astype(np.float32)
    path = tmp_path_factory.mktemp("weights") / "block1_only.h5"
    write_legacy_h5(path, {"block1_conv1": (kernel, bias)})
    return path, kernel, bias


def test_output_shapes_and_minimum_size_by_hand():
    # 3 pools before block4_conv1: 400 -> 200 -> 100 -> 50
    assert vgg.output_shape("block4_conv1", 400, 300) == (50, 37, 512)
    assert vgg.output_shape("block1_pool", 5, 7) == (2, 3, 64)
    assert vgg.minimum_input_size(["block1_conv1"]) == 1
    assert vgg.minimum_input_size(["block3_conv2", "block1_conv1"]) == 4
    assert vgg.minimum_input_size(["block5_conv4"]) == 16
    assert vgg.minimum_input_size(["block2_pool"]) == 4
    assert vgg.deepest_layer(["block3_conv1", "block1_conv2", "block2_pool"]) == "block3_conv1"
    assert vgg.layers_up_to("block1_pool") == ("block1_conv1", "block1_conv2", "block1_pool")


def test_unknown_layer_names_the_valid_ones():
    with pytest.raises(NSTError, match="unknown VGG19 layer.*block9_conv1.*block1_conv1"):
        vgg.deepest_layer(["block9_conv1"])
    with pytest.raises(ValueError, match="at least one VGG19 layer"):  # NSTError is a ValueError
        vgg.deepest_layer([])


def test_layer_table_is_keras_vgg19():
    """The small table the layer facts come from names and sizes the layers as Keras' VGG19 does."""
    import keras

    network = keras.applications.VGG19(include_top=False, weights=None, input_shape=(64, 48, 3))
    assert vgg.ARCHITECTURE == tuple((layer.name, getattr(layer, "filters", None)) for layer in network.layers[1:])
    for name in ("block2_conv2", "block3_pool", "block5_conv4"):
        assert vgg.output_shape(name, 64, 48) == tuple(network.get_layer(name).output.shape[1:])
    assert len(vgg.CONV_LAYER_NAMES) == 16


def test_loads_by_name_from_a_partial_file_and_preprocesses(one_layer_file):
    """block1_conv1 from a one-layer file: ReLU(conv(preprocess_input(255 x), kernel) + bias) by hand."""
    import tensorflow as tf

    path, kernel, bias = one_layer_file
    assert vgg.file_layers(path) == ("block1_conv1",)
    extractor = vgg.build_extractor(["block1_conv1"], weights=path)
    assert extractor.weights.kind == "file" and extractor.weights.loaded_layers == ("block1_conv1",)
    np.testing.assert_array_equal(extractor.model.get_layer("block1_conv1").get_weights()[0], kernel)
    image = np.random.default_rng(2).uniform(0, 1, (1, 9, 7, 3)).astype(np.float32)
    bgr_centred = image[..., ::-1] * 255.0 - IMAGENET_BGR_MEAN  # what vgg19.preprocess_input does
    expected = tf.nn.relu(tf.nn.conv2d(bgr_centred, kernel, 1, "SAME") + bias).numpy()
    output = extractor(image)["block1_conv1"]
    assert output.dtype == tf.float32
    np.testing.assert_allclose(output.numpy(), expected, rtol=1e-5, atol=1e-4)
    raw = vgg.build_extractor(["block1_conv1"], weights=path, preprocess=False)(image)["block1_conv1"]
    np.testing.assert_allclose(
        raw.numpy(), tf.nn.relu(tf.nn.conv2d(image, kernel, 1, "SAME") + bias).numpy(), rtol=1e-5, atol=1e-6
    )
    assert extractor.provenance()["preprocessing"].startswith("vgg19.preprocess_input")


def test_a_layer_the_file_lacks_raises_naming_it(one_layer_file):
    path, _, _ = one_layer_file
    with pytest.raises(MissingWeightsError) as caught:
        vgg.build_extractor(["block1_conv1", "block1_pool"], weights=path)  # block1_conv2 is needed too
    message = str(caught.value)
    assert "block1_conv2" in message and "vgg19_full" in message and "holds only block1_conv1" in message
    assert isinstance(caught.value, NSTError)


def test_bad_weights_and_dtype_values(tmp_path, one_layer_file):
    with pytest.raises(NSTError, match="'auto', 'full', 'partial' or an existing .h5 file"):
        vgg.choose_weights(["block1_conv1"], weights="imagenet")
    other_suffix = tmp_path / "weights.bin"
    other_suffix.write_bytes(b"")
    with pytest.raises(NSTError, match="ending in .h5"):
        vgg.choose_weights(["block1_conv1"], weights=other_suffix)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not hdf5")
    with pytest.raises(NSTError, match="cannot read VGG19 weights from .*broken.h5"):
        vgg.choose_weights(["block1_conv1"], weights=broken)
    with pytest.raises(NSTError, match="compute_dtype"):
        vgg.build_extractor(["block1_conv1"], weights=one_layer_file[0], compute_dtype="float16")
    with pytest.raises(NSTError, match="is a folder"):
        vgg.choose_weights(["block1_conv1"], weights=tmp_path)


def test_layer_shapes_are_read_and_checked(tmp_path, one_layer_file):
    assert vgg.layer_shapes(one_layer_file[0]) == {"block1_conv1": ((3, 3, 3, 64), (64,))}
    assert vgg.expected_layer_shapes("block1_conv1") == ((3, 3, 3, 64), (64,))
    assert vgg.expected_layer_shapes("block3_conv1") == ((3, 3, 128, 256), (256,))
    wrong = tmp_path / "wrong.h5"
    write_legacy_h5(
        wrong,
        {
            "block1_conv1": (np.zeros((3, 3, 3, 64), np.float32), np.zeros(64, np.float32)),
            "block1_conv2": (np.zeros((3, 3, 64, 32), np.float32), np.zeros(32, np.float32)),
        },
    )
    with pytest.raises(
        NSTError,
        match=r"wrong.h5 does not hold VGG19 weights: block1_conv2 has \(3, 3, 64, 32\) "
        r"and \(32,\), VGG19 needs \(3, 3, 64, 64\) and \(64,\)",
    ):
        vgg.choose_weights(["block1_conv2"], weights=wrong)
    # a layer the objective does not need may have any shape: only the truncated network matters
    assert vgg.choose_weights(["block1_conv1"], weights=wrong).loaded_layers == ("block1_conv1",)


def test_bfloat16_convolutions_give_float32_outputs_close_to_float32(one_layer_file):
    path = one_layer_file[0]
    image = np.random.default_rng(3).uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)
    full = vgg.build_extractor(["block1_conv1"], weights=path)(image)["block1_conv1"].numpy()
    half = vgg.build_extractor(["block1_conv1"], weights=path, compute_dtype="bfloat16")(image)["block1_conv1"]
    assert half.dtype.name == "float32"
    np.testing.assert_allclose(half.numpy(), full, rtol=0.03, atol=0.03 * np.abs(full).max())
    import keras

    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was


@needs_partial
def test_extractor_is_truncated_and_matches_keras_vgg19_on_the_same_weights():
    """Keras' VGG19(weights=None) + load_weights(partial, by_name=True) + preprocess_input vs ours."""
    import keras

    extractor = vgg.build_extractor(["block1_conv1", "block3_conv4", "block2_pool"])
    assert extractor.built_layers[-1] == "block3_conv4"
    assert [layer.name for layer in extractor.model.layers] == [
        "rgb_0_1",
        "vgg19_preprocess",
        *vgg.layers_up_to("block3_conv4"),
    ]
    assert set(extractor(np.zeros((1, 16, 16, 3), np.float32))) == {"block1_conv1", "block3_conv4", "block2_pool"}

    reference = keras.applications.VGG19(include_top=False, weights=None, input_shape=(48, 40, 3))
    reference.load_weights(str(PARTIAL), by_name=True)
    names = ["block1_conv1", "block2_pool", "block3_conv4"]
    reference_model = keras.Model(reference.input, [reference.get_layer(n).output for n in names])
    image = np.random.default_rng(1).uniform(0, 1, (1, 48, 40, 3)).astype(np.float32)
    expected = reference_model(keras.applications.vgg19.preprocess_input(image * 255.0))
    ours = extractor(image)
    for name, value in zip(names, expected):
        np.testing.assert_allclose(
            ours[name].numpy(), np.asarray(value), rtol=1e-4, atol=1e-5 * float(np.abs(value).max())
        )
    provenance = extractor.provenance()
    assert provenance["weights_file"] == str(FULL or PARTIAL)
    assert provenance["random_layers"] == [] and provenance["random_initializer"] is None
    assert provenance["truncated_at"] == "block3_conv4"


@needs_partial
def test_a_file_named_or_sized_like_a_registered_asset_must_pass_its_checksum(tmp_path):
    good = tmp_path / "renamed.h5"
    shutil.copy(PARTIAL, good)
    assert vgg.choose_weights(["block1_conv1"], weights=good).kind == "file"  # same size: verified, and good
    named = tmp_path / assets.get("vgg19_partial").filename
    shutil.copy(PARTIAL, named)
    with h5py.File(named, "r+") as handle:
        handle["block1_conv1"]["block1_conv1"]["bias:0"][0] += 1.0
    with pytest.raises(AssetError, match="vgg19_partial.*corrupt or a different version: sha256"):
        vgg.choose_weights(["block1_conv1"], weights=named)
    truncated = tmp_path / assets.get("vgg19_full").filename
    truncated.write_bytes(PARTIAL.read_bytes())
    with pytest.raises(AssetError, match="vgg19_full.*has 9,330,600 bytes, expected 80,134,624"):
        vgg.choose_weights(["block1_conv1"], weights=truncated)


@needs_partial
def test_auto_dtype_is_resolved_and_recorded():
    extractor = vgg.build_extractor(["block1_conv1"], compute_dtype="auto")
    provenance = extractor.provenance()
    assert provenance["compute_dtype"] in ("float32", "bfloat16") and provenance["compute_dtype_requested"] == "auto"
    assert provenance["compute_dtype_reason"].startswith(f"auto: {provenance['compute_dtype']}")
    layer_dtype = extractor.model.get_layer("block1_conv1").compute_dtype
    assert layer_dtype == provenance["compute_dtype"]


@needs_partial
def test_the_weights_are_the_files_imagenet_weights():
    """Every loaded kernel and bias equals the dataset in the partial file (real weights, not random)."""
    extractor = vgg.build_extractor(["block3_conv4"], weights="partial")
    assert set(vgg.file_layers(PARTIAL)) == set(vgg.CONV_LAYER_NAMES[:8])
    with h5py.File(PARTIAL, "r") as handle:
        for name in vgg.CONV_LAYER_NAMES[:8]:
            kernel, bias = extractor.model.get_layer(name).get_weights()
            np.testing.assert_array_equal(kernel, np.asarray(handle[name][name]["kernel:0"]))
            np.testing.assert_array_equal(bias, np.asarray(handle[name][name]["bias:0"]))
    assert extractor.provenance()["weights_kind"] == "partial"


@needs_partial
@pytest.mark.skipif(FULL is not None, reason="the full VGG19 file is present")
def test_missing_block4_weights_raise_naming_the_layers_and_the_full_asset():
    with pytest.raises(MissingWeightsError) as caught:
        vgg.build_extractor(["block1_conv1", "block4_conv2"])
    message = str(caught.value)
    assert "block4_conv1, block4_conv2" in message and "vgg19_full" in message
    assert "block3_conv1" not in message.split("holds only")[0]


@needs_partial
def test_random_weights_only_when_asked_seeded_and_recorded():
    """Block 4 weights are random only with allow_random_weights=True: Keras' Glorot-uniform, seeded."""
    first = vgg.build_extractor(["block4_conv1"], allow_random_weights=True, seed=3)
    provenance = first.provenance()
    if FULL is None:
        assert provenance["random_layers"] == ["block4_conv1"]
        assert provenance["weights_kind"] == "partial+random"
        assert "GlorotUniform(seed=3" in provenance["random_initializer"]
        kernel = first.model.get_layer("block4_conv1").get_weights()[0]
        again = vgg.build_extractor(["block4_conv1"], allow_random_weights=True, seed=3)
        other = vgg.build_extractor(["block4_conv1"], allow_random_weights=True, seed=4)
        np.testing.assert_array_equal(again.model.get_layer("block4_conv1").get_weights()[0], kernel)
        assert not np.array_equal(other.model.get_layer("block4_conv1").get_weights()[0], kernel)
        limit = np.sqrt(6.0 / (9 * 256 + 9 * 512))  # Glorot-uniform bound for a 3x3 256 -> 512 convolution
        assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit


def test_activation_memory_estimate_grows_with_size():
    small = vgg.estimate_activation_bytes(["block3_conv1"], 100, 100)
    large = vgg.estimate_activation_bytes(["block3_conv1"], 200, 200)
    assert 3.9 < large / small < 4.1
    assert vgg.available_memory_bytes() is None or vgg.available_memory_bytes() > 0
