"""utils.faces.encoder: chip validation, encoding with the real converted dlib ResNet (with and
without flip averaging), caching, the error that points to ``make setup`` when the converted model
is missing, and images -> encodings.

Real numbers come from ``tests/fixtures/dlib_parity.npz`` (6 chips with dlib's own descriptors;
two pairs show the same person: Andre_Agassi 0001/0002 and younes / camera_0).
"""

from __future__ import annotations

import numpy as np
import pytest

from utils import assets, config, errors
from utils.assets import lookup
from utils.faces import constants, encoder


@pytest.fixture(scope="module")
def model(converted_path):
    """The real converted encoder (converted by the ``converted_path`` fixture if needed)."""
    return encoder.load_encoder()


# ---- validation (no model needed) ------------------------------------------------------------


@pytest.mark.parametrize(
    "chips, message",
    [
        (np.zeros((150, 150, 3), np.uint8), "one chip"),
        (np.zeros((2, 150, 150), np.uint8), r"shape \(2, 150, 150\)"),
        (np.zeros((2, 96, 96, 3), np.uint8), "150x150"),
        (np.zeros((1, 150, 150, 4), np.uint8), "3 channels"),
        (np.zeros((1, 150, 150, 3), np.float32), "uint8"),
        ([np.zeros((150, 150, 3), np.uint8), np.zeros((140, 150, 3), np.uint8)], "different shapes"),
    ],
)
def test_bad_chips_raise_value_error(chips, message):
    with pytest.raises(errors.ImageError, match=message):
        encoder.encode_chips(chips, model=object())
    with pytest.raises(ValueError, match=message):  # ImageError is a ValueError
        encoder.encode_chips(chips, model=object(), flip=False)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_bad_batch_size_raises(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode_chips(np.zeros((1, 150, 150, 3), np.uint8), model=object(), batch_size=batch_size)


def test_no_chips_give_empty_descriptors_without_a_model():
    for empty in (np.zeros((0, 150, 150, 3), np.uint8), []):
        for flip in (True, False):
            out = encoder.encode_chips(empty, model=object(), flip=flip)
            assert out.shape == (0, 128) and out.dtype == np.float32
    assert encoder.encode_images([], model=object()).shape == (0, 128)


def test_missing_model_file_says_make_setup(tmp_path, monkeypatch):
    with pytest.raises(errors.AssetError, match="make setup"):
        encoder.load_encoder(tmp_path / "absent.keras")
    monkeypatch.delenv(lookup.ASSETS_ENV_VAR, raising=False)  # an empty machine: no mirror, no ../shared, empty cache
    monkeypatch.setenv(lookup.SHARED_ENV_VAR, "")
    monkeypatch.setenv(lookup.CACHE_ENV_VAR, str(tmp_path))
    with pytest.raises(errors.AssetError, match="make setup") as error:
        encoder.load_encoder()
    assert getattr(error.value, "missing", False)


# ---- real encoder ----------------------------------------------------------------------------


def test_encode_chips_without_flip_matches_dlib(model, parity):
    out = encoder.encode_chips(parity["chips"], model=model, flip=False)
    assert out.shape == (6, 128) and out.dtype == np.float32
    assert np.abs(out - parity["descriptors"]).max() < 1e-5


def test_flip_averages_the_chip_and_its_mirror_image(model, parity):
    chips = parity["chips"]
    plain = encoder.encode_chips(chips, model=model, flip=False)
    mirrored = encoder.encode_chips(chips[:, :, ::-1, :], model=model, flip=False)
    flipped = encoder.encode_chips(chips, model=model, flip=True)
    assert flipped.shape == (6, 128) and flipped.dtype == np.float32
    np.testing.assert_allclose(flipped, 0.5 * (plain + mirrored), atol=1e-5)
    # a mirror image is a different input: the average really differs from dlib's descriptor ...
    assert np.abs(flipped - parity["descriptors"]).max() > 1e-3
    # ... and the default is the measured FLIP_DEFAULT (on)
    assert constants.FLIP_DEFAULT is True
    np.testing.assert_array_equal(encoder.encode_chips(chips, model=model), flipped)


def test_batch_size_and_list_input_do_not_change_results(model, parity):
    chips = parity["chips"]
    for flip in (False, True):
        whole = encoder.encode_chips(chips, model=model, flip=flip, batch_size=32)
        np.testing.assert_allclose(encoder.encode_chips(chips, model=model, flip=flip, batch_size=1), whole, atol=1e-5)
        np.testing.assert_allclose(
            encoder.encode_chips(list(chips), model=model, flip=flip, batch_size=4), whole, atol=1e-5
        )


@pytest.mark.parametrize("flip", [False, True])
def test_same_person_below_threshold_others_above(model, parity, flip):
    out = encoder.encode_chips(parity["chips"], model=model, flip=flip)
    identities = [str(name) for name in parity["identities"]]
    for i in range(len(out)):
        for j in range(i + 1, len(out)):
            distance = float(np.linalg.norm(out[i] - out[j]))
            same = identities[i] == identities[j]
            assert (distance < constants.DEFAULT_THRESHOLD) == same, (identities[i], identities[j], distance)


def test_load_encoder_is_cached(model):
    assert encoder.load_encoder() is model
    assert encoder.load_encoder(assets.resolve("dlib_face_resnet_keras")) is model
    assert model.output_shape == (None, constants.EMBEDDING_SIZE)


# ---- images -> encodings ---------------------------------------------------------------------


def test_encode_images_refuses_policy_all():
    with pytest.raises(errors.UsageError, match="encode_all_faces"):
        encoder.encode_images(["a.jpg"], policy="all")


def test_unreadable_image_is_named_before_any_model_is_loaded(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(errors.ImageError, match="broken.jpg"):
        encoder.encode_images(broken, model=object())


@pytest.mark.slow
def test_encode_images_and_all_faces_on_real_photos(model):
    """One face per image (the largest), or every face of a group photo, through the same chips."""
    from utils.faces import align

    photo = assets.resolve("faces_demo") / "ageitgey" / "test" / "obama_and_biden.jpg"
    encodings, faces = encoder.encode_all_faces(photo, model=model)
    assert encodings.shape == (len(faces), 128) and len(faces) >= 2
    largest = encoder.encode_images(photo, model=model)
    np.testing.assert_allclose(largest, encodings[:1], atol=1e-5)  # faces come largest first
    chips = align.extract_face_chips(photo, policy="all")
    np.testing.assert_allclose(encoder.encode_chips(chips, model=model), encodings, atol=1e-5)


def test_bfloat16_encodings_stay_within_1e_2_of_float32(model, parity):
    """The default encoder runs in bfloat16 where native; explicit float32 is dlib's own descriptor."""

    exact = encoder.encode_chips(parity["chips"], model=model, flip=False, compute_dtype="float32")
    rounded = encoder.encode_chips(parity["chips"], model=model, flip=False, compute_dtype="bfloat16")
    assert np.abs(exact - parity["descriptors"]).max() < 1e-5
    assert rounded.dtype == np.float32 and 1e-5 < np.abs(rounded - exact).max() < 1e-2
    copy, choice = encoder.inference_model(model, "bfloat16")
    assert copy.get_layer("embedding").compute_dtype == "float32"
    assert {layer.compute_dtype for layer in copy.layers if layer.name not in ("chip_rgb", "embedding")} == {"bfloat16"}
    default, choice = encoder.inference_model()
    assert choice.dtype == config.choose_compute_dtype("auto").dtype
    assert encoder.inference_model(model)[0] is model  # a model passed in runs as it is
