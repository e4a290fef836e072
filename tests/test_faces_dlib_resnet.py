"""utils.faces.dlib_resnet: the .dat parser on hand-made bytes, the real file's structure, the residual
zero-extension, affine folding, and parity of the converted model with dlib itself.

The parity fixture ``tests/fixtures/dlib_parity.npz`` holds 6 uint8 chips and the descriptors that
dlib 20.0.1 computed for them (made by ``tools/make_dlib_parity_fixture.py`` in a throwaway venv;
CI has no dlib).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from utils import assets
from utils.errors import DlibFormatError
from utils.faces import constants, dlib_resnet
from utils.faces.dlib_resnet import DatLayer, DatReader

FIXTURE = Path(__file__).parent / "fixtures" / "dlib_parity.npz"


@pytest.fixture(scope="module")
def parsed_net():
    return dlib_resnet.parse_dat()


# ---- primitives on hand-made bytes -----------------------------------------------------------


@pytest.mark.parametrize(
    "data, value",
    [
        (b"\x00", 0),  # no magnitude bytes
        (b"\x01\x05", 5),
        (b"\x01\xff", 255),
        (b"\x02\x00\x01", 256),  # little-endian: 0x0100
        (b"\x03\x0a\xd7\xa3", 0xA3D70A),
        (b"\x81\x04", -4),  # 0x80: negative, sign-magnitude
        (b"\x82\x34\x12", -0x1234),
        (b"\x08" + (2**63 - 1).to_bytes(8, "little"), 2**63 - 1),
    ],
)
def test_read_int(data, value):
    reader = DatReader(data)
    assert reader.read_int() == value
    assert reader.at_end


@pytest.mark.parametrize(
    "data, value",
    [
        (b"\x01\x03\x81\x01", 1.5),  # 3 * 2**-1
        (b"\x81\x05\x01\x02", -20.0),  # -5 * 2**2
        (b"\x01\x00\x01\x0b", 0.0),  # zero mantissa, as dlib writes 0
        (b"\x03\x0a\xd7\xa3\x81\x1c", 10737418 * 2.0**-28),  # the loss margin 0.04 of the real file
    ],
)
def test_read_float_is_mantissa_first_then_exponent(data, value):
    reader = DatReader(data)
    assert reader.read_float() == value
    assert reader.at_end


def test_real_margin_bytes_are_0_04():
    assert DatReader(b"\x03\x0a\xd7\xa3\x81\x1c").read_float() == pytest.approx(0.04, abs=1e-9)


def test_read_string_and_bools():
    reader = DatReader(b"\x01\x05relu_" + b"10")
    assert reader.read_string() == "relu_"
    assert reader.read_bool() is True
    assert reader.read_bool() is False
    assert reader.at_end


def test_read_tensor_nchw_float32():
    values = [1.0, -2.5, 3.25, 0.125]
    data = b"\x01\x02" + b"\x01\x01" + b"\x01\x02" + b"\x01\x01" + b"\x01\x02" + struct.pack("<4f", *values)
    tensor = DatReader(data).read_tensor()
    assert tensor.dtype == np.float32 and tensor.shape == (1, 2, 1, 2)
    np.testing.assert_array_equal(tensor.reshape(-1), values)
    assert tensor[0, 1, 0, 0] == 3.25  # channel 1, row 0, column 0


def test_read_alias_and_empty_tensor():
    reader = DatReader(b"\x01\x01\x01\x20\x01\x03\x01\x07\x01\x07" + b"\x01\x02" + b"\x01\x00" * 4)
    assert reader.read_alias() == (32, 3, 7, 7)
    assert reader.read_tensor().size == 0


@pytest.mark.parametrize(
    "data, method, message",
    [
        (b"\x02\x01", "read_int", "needs 2 more bytes"),
        (b"\x09" + b"\x00" * 9, "read_int", "control byte"),
        (b"\x01\x05rel", "read_string", "truncated"),
        (b"x", "read_bool", "bool"),
        (b"\x01\x03", "read_tensor", "tensor version"),
        (b"\x01\x02" + b"\x01\x01" * 4 + b"\x00\x00", "read_tensor", "needs 4 more bytes"),
    ],
)
def test_bad_bytes_raise_format_error_with_offset(data, method, message):
    with pytest.raises(DlibFormatError, match="at byte") as error:
        getattr(DatReader(data), method)()
    assert message in str(error.value)


# ---- the real file ---------------------------------------------------------------------------


def test_real_file_structure(parsed_net):
    net = parsed_net
    assert net.loss_margin == pytest.approx(0.04, abs=1e-7)
    assert net.loss_threshold == pytest.approx(0.6, abs=1e-7)
    assert len(net.nesting_versions) == 130
    assert net.input_size == (150, 150)
    np.testing.assert_allclose(net.mean_rgb, (122.782, 117.001, 104.298), atol=1e-4)
    assert len(net.layers) == 108
    assert net.kinds() == dlib_resnet.expected_layer_kinds()
    convs = [layer for layer in net.layers if layer.kind == "con"]
    assert len(convs) == 29
    assert convs[0].weights["filters"].shape == (32, 3, 7, 7)
    assert [c.config["filters"] for c in convs[1:]] == [32] * 6 + [64] * 8 + [128] * 6 + [256] * 6 + [256] * 2
    # stride-2 convolutions are unpadded, stride-1 ones pad by 1 ('same').
    assert {(c.config["stride_y"], c.config["padding_y"]) for c in convs[1:]} == {(1, 1), (2, 0)}
    assert net.layers[-1].weights["weights"].shape == (256, 128)
    assert net.source_sha256 == assets.get("dlib_face_resnet_dat").sha256


def test_face_constants_match_the_file(parsed_net):
    np.testing.assert_allclose(constants.MEAN_RGB, parsed_net.mean_rgb, atol=1e-4)
    assert constants.DEFAULT_THRESHOLD == pytest.approx(parsed_net.loss_threshold, abs=1e-6)
    assert parsed_net.input_size == (constants.CHIP_SIZE, constants.CHIP_SIZE)
    assert parsed_net.layers[-1].config["outputs"] == constants.EMBEDDING_SIZE


def test_truncated_or_altered_file_is_rejected():
    data = assets.resolve("dlib_face_resnet_dat").read_bytes()
    with pytest.raises(DlibFormatError, match="truncated|needs"):
        dlib_resnet.parse_dat(data[:-100])
    altered = bytearray(data)
    position = data.index(b"loss_metric_2") + 13 + 6 + 6 + 1  # inside the nesting versions
    assert altered[position] == 2
    altered[position] = 1
    with pytest.raises(DlibFormatError, match="nesting"):
        dlib_resnet.parse_dat(bytes(altered))
    with pytest.raises(DlibFormatError, match="unexpected bytes"):
        dlib_resnet.parse_dat(data + b"\x00")


def test_expected_nesting_starts_like_dlib():
    # fc, avg_pool_everything, relu, add_prev2, avg_pool, skip1, tag2, affine, con, relu, affine, con, tag1
    assert dlib_resnet.expected_nesting_versions()[:13] == [2, 2, 2, 2, 2, 1, 1, 2, 2, 2, 2, 2, 1]
    assert dlib_resnet.expected_nesting_versions()[-1] == 3


# ---- builder pieces (small Keras models, no weights needed) -----------------------------------


def _dlib_add_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dlib's add_prev in NumPy: zero-extend both to the larger shape, aligned top-left, add."""
    shape = tuple(max(x, y) for x, y in zip(a.shape, b.shape))
    out = np.zeros(shape, np.float32)
    out[tuple(slice(0, s) for s in a.shape)] += a
    out[tuple(slice(0, s) for s in b.shape)] += b
    return out


@pytest.mark.parametrize(
    "main_shape, shortcut_shape",
    [
        ((3, 3, 4), (4, 4, 2)),  # stage 4: main path 3x3, shortcut 4x4 with fewer channels
        ((1, 1, 3), (2, 2, 3)),  # stage 5: main path 1x1, shortcut 2x2
        ((5, 5, 4), (5, 5, 2)),  # channels only
        ((2, 2, 3), (2, 2, 3)),  # nothing to pad
    ],
)
def test_zero_extend_add_matches_dlib_exactly(main_shape, shortcut_shape):
    """Toy Keras model of two inputs; built here, no weights."""
    import keras

    main = keras.Input(main_shape)
    shortcut = keras.Input(shortcut_shape)
    model = keras.Model([main, shortcut], dlib_resnet.zero_extend_add(main, shortcut, "toy"))
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, *main_shape)).astype(np.float32)
    b = rng.normal(size=(2, *shortcut_shape)).astype(np.float32)
    got = model([a, b], training=False).numpy()
    expected = np.stack([_dlib_add_reference(a[i], b[i]) for i in range(2)])
    np.testing.assert_array_equal(got, expected)
    # top-left alignment: the last row/column of a smaller main path holds only the shortcut.
    if main_shape[0] < shortcut_shape[0]:
        np.testing.assert_array_equal(got[:, -1, :, : shortcut_shape[2]], b[:, -1])


def test_folded_conv_is_cross_correlation_times_gamma_plus_beta():
    """A 2x2 convolution with affine folded in, against a NumPy cross-correlation; no weights."""
    import keras

    rng = np.random.default_rng(1)
    filters = rng.normal(size=(2, 3, 2, 2)).astype(np.float32)  # dlib (O, I, kh, kw)
    biases = rng.normal(size=2).astype(np.float32)
    gamma = np.array([0.5, -2.0], np.float32)
    beta = np.array([1.0, 0.25], np.float32)
    con = DatLayer("con", "con_4", {}, {"filters": filters, "biases": biases})
    affine = DatLayer("affine", "affine_", {}, {"gamma": gamma, "beta": beta})
    kernel, bias = dlib_resnet.folded_conv_weights(con, affine)
    assert kernel.shape == (2, 2, 3, 2)

    image = rng.normal(size=(1, 3, 4, 3)).astype(np.float32)  # NHWC
    layer = keras.layers.Conv2D(2, 2, padding="valid")
    layer.build(image.shape)
    layer.set_weights([kernel, bias])
    got = layer(image).numpy()[0]
    expected = np.zeros((2, 3, 2), np.float64)
    for row in range(2):
        for col in range(3):
            patch = image[0, row : row + 2, col : col + 2, :]  # (kh, kw, I)
            for out in range(2):
                value = np.sum(filters[out].transpose(1, 2, 0) * patch) + biases[out]
                expected[row, col, out] = gamma[out] * value + beta[out]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_built_model_uses_only_builtin_layers(parsed_net):
    import keras

    model = dlib_resnet.build_model(parsed_net)
    assert model.input_shape == (None, 150, 150, 3)
    assert model.output_shape == (None, 128)
    for layer in model.layers:
        assert type(layer).__module__.startswith("keras."), type(layer)
        assert not isinstance(layer, keras.layers.Lambda)
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == 29


# ---- parity with dlib ------------------------------------------------------------------------


def test_fixture_is_small_and_complete(parity):
    assert FIXTURE.stat().st_size < 500_000
    assert parity["chips"].dtype == np.uint8 and parity["chips"].shape == (6, 150, 150, 3)
    assert parity["descriptors"].shape == (6, 128)
    assert str(parity["dat_sha256"]) == assets.get("dlib_face_resnet_dat").sha256


@pytest.mark.slow
def test_converted_model_matches_dlib(converted_path, parity):
    import keras

    model = keras.saving.load_model(converted_path)
    got = model(parity["chips"].astype(np.float32), training=False).numpy()
    difference = np.abs(got - parity["descriptors"]).max()
    assert difference < 1e-5, f"max |keras - dlib| = {difference:.3g}"
    # the raw descriptor is not normalised: dlib's norms are about 1.4
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.4, atol=0.1)


@pytest.mark.slow
def test_convert_writes_model_and_sidecar_that_reload_exactly(tmp_path, parsed_net, parity):
    import keras

    path = dlib_resnet.convert(out_path=tmp_path / "encoder.keras")
    record = json.loads(assets.sidecar_path(path).read_text())
    assert record["source_sha256"] == assets.get("dlib_face_resnet_dat").sha256
    assert record["converter"] == dlib_resnet.CONVERTER_ID
    assets.verify(assets.get("dlib_face_resnet_keras"), path)  # the sidecar checksum matches
    # written atomically: no temporary file is left beside the model and its sidecar
    assert sorted(item.name for item in tmp_path.iterdir()) == sorted([path.name, assets.sidecar_path(path).name])

    reloaded = keras.saving.load_model(path)  # safe mode, no custom objects
    built = dlib_resnet.build_model(parsed_net)
    chips = parity["chips"][:2].astype(np.float32)
    np.testing.assert_array_equal(reloaded(chips, training=False).numpy(), built(chips, training=False).numpy())


def test_convert_rejects_wrong_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.keras"):
        dlib_resnet.convert(out_path=tmp_path / "encoder.h5")
