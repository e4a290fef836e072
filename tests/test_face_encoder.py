"""utils.face_encoder: chip validation, encoding with the real converted dlib ResNet, caching and
the error that points to ``make setup`` when the converted model is missing.

Real numbers come from ``tests/fixtures/dlib_parity.npz`` (6 chips with dlib's own descriptors;
two pairs show the same person: Andre_Agassi 0001/0002 and younes / camera_0).
"""

from __future__ import annotations

import numpy as np
import pytest

from utils import assets, face_encoder

@pytest.fixture(scope="module")
def model(converted_path):
    """The real converted encoder (converted by the ``converted_path`` fixture if needed)."""
    return face_encoder.load_encoder()


# ---- validation (no model needed) ------------------------------------------------------------

@pytest.mark.parametrize("chips, message", [
    (np.zeros((150, 150, 3), np.uint8), "one chip"),
    (np.zeros((2, 150, 150), np.uint8), r"shape \(2, 150, 150\)"),
    (np.zeros((2, 96, 96, 3), np.uint8), "150x150"),
    (np.zeros((1, 150, 150, 4), np.uint8), "3 channels"),
    (np.zeros((1, 150, 150, 3), np.float32), "uint8"),
    ([np.zeros((150, 150, 3), np.uint8), np.zeros((140, 150, 3), np.uint8)], "different shapes"),
])
def test_bad_chips_raise_value_error(chips, message):
    with pytest.raises(ValueError, match=message):
        face_encoder.encode_chips(chips, model=object())


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_bad_batch_size_raises(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        face_encoder.encode_chips(np.zeros((1, 150, 150, 3), np.uint8), model=object(), batch_size=batch_size)


def test_no_chips_give_empty_descriptors_without_a_model():
    for empty in (np.zeros((0, 150, 150, 3), np.uint8), []):
        out = face_encoder.encode_chips(empty, model=object())
        assert out.shape == (0, 128) and out.dtype == np.float32


def test_missing_model_file_says_make_setup(tmp_path, monkeypatch):
    with pytest.raises(assets.AssetError, match="make setup"):
        face_encoder.load_encoder(tmp_path / "absent.keras")
    monkeypatch.setattr(assets, "search_roots", lambda: [tmp_path])
    with pytest.raises(assets.AssetError, match="make setup") as error:
        face_encoder.load_encoder()
    assert getattr(error.value, "missing", False)


# ---- real encoder ----------------------------------------------------------------------------

def test_encode_chips_matches_dlib(model, parity):
    out = face_encoder.encode_chips(parity["chips"], model=model)
    assert out.shape == (6, 128) and out.dtype == np.float32
    assert np.abs(out - parity["descriptors"]).max() < 1e-5


def test_batch_size_and_list_input_do_not_change_results(model, parity):
    chips = parity["chips"]
    whole = face_encoder.encode_chips(chips, model=model, batch_size=32)
    np.testing.assert_allclose(face_encoder.encode_chips(chips, model=model, batch_size=1), whole, atol=1e-5)
    np.testing.assert_allclose(face_encoder.encode_chips(list(chips), model=model, batch_size=4), whole, atol=1e-5)


def test_same_person_below_threshold_others_above(model, parity):
    out = face_encoder.encode_chips(parity["chips"], model=model)
    identities = [str(name) for name in parity["identities"]]
    for i in range(len(out)):
        for j in range(i + 1, len(out)):
            distance = float(np.linalg.norm(out[i] - out[j]))
            same = identities[i] == identities[j]
            assert (distance < face_encoder.DEFAULT_THRESHOLD) == same, (identities[i], identities[j], distance)


def test_load_encoder_is_cached(model):
    assert face_encoder.load_encoder() is model
    assert face_encoder.load_encoder(assets.resolve("dlib_face_resnet_keras")) is model
    assert model.output_shape == (None, face_encoder.EMBEDDING_SIZE)
