"""Tests for utils.faces.course: the course's img_to_encoding, verify and who_is_it.

The decision and message tests replace the encoder by a table of known encodings (no weights
needed: ``encoder.encode_images`` is monkeypatched); the last test runs MTCNN and the real
converted dlib ResNet on the faces_demo LFW gallery.
"""

import numpy as np
import pytest

from utils import assets, errors
from utils.faces import NOT_RECOGNIZED, FaceDatabase, course, encoder


def _unit(index, scale=1.0):
    vector = np.zeros(128, np.float32)
    vector[index] = scale
    return vector


@pytest.fixture
def known_encodings(monkeypatch):
    """encode_images returns the encoding listed for each image name (and counts its calls)."""
    table = {"ann_at_door.jpg": _unit(0, 0.8), "stranger.jpg": _unit(5)}
    calls = []

    def fake_encode_images(images, model=None, policy="largest", flip=None, batch_size=32):
        calls.append(list(images))
        return np.stack([table[str(image)] for image in images])

    monkeypatch.setattr(encoder, "encode_images", fake_encode_images)
    return calls


def test_img_to_encoding_keeps_the_course_shape(known_encodings):
    encoding = course.img_to_encoding("ann_at_door.jpg")
    assert encoding.shape == (1, 128) and encoding[0, 0] == pytest.approx(0.8)


def test_verify_decides_and_prints_like_the_course(known_encodings, capsys):
    database = {"ann": _unit(0)[None, :], "bob": _unit(1)[None, :]}
    distance, door_open = course.verify("ann_at_door.jpg", "ann", database)
    assert distance == pytest.approx(0.2) and door_open is True
    assert capsys.readouterr().out == "It's ann, welcome in!\n"
    distance, door_open = course.verify("ann_at_door.jpg", "bob", database)
    assert distance == pytest.approx(np.sqrt(1.64)) and door_open is False
    assert capsys.readouterr().out == "It's not bob, please go away\n"
    assert course.verify("ann_at_door.jpg", "ann", database, threshold=0.1, verbose=False) == (
        pytest.approx(0.2),
        False,
    )
    assert capsys.readouterr().out == ""


def test_who_is_it_decides_and_prints_like_the_course(known_encodings, capsys):
    database = FaceDatabase.from_dict({"ann": _unit(0)[None, :], "bob": _unit(1)[None, :]})
    assert course.who_is_it("ann_at_door.jpg", database) == (pytest.approx(0.2), "ann")
    assert capsys.readouterr().out == "it's ann, the distance is 0.200\n"
    assert course.who_is_it("stranger.jpg", database) == (pytest.approx(np.sqrt(2)), NOT_RECOGNIZED)
    assert capsys.readouterr().out == "Not in the database.\n"
    # another threshold is applied to a copy: the learner's database keeps its own
    assert course.who_is_it("ann_at_door.jpg", database, threshold=0.1, verbose=False)[1] == NOT_RECOGNIZED
    assert database.threshold == 0.6


def test_unknown_identity_fails_before_encoding(known_encodings):
    with pytest.raises(errors.UnknownIdentityError, match="'zed' is not enrolled"):
        course.verify("ann_at_door.jpg", "zed", {"ann": _unit(0)[None, :]})
    assert known_encodings == []


@pytest.mark.slow
def test_course_helpers_on_real_images():
    """img_to_encoding keeps the course's (1, 128) shape; verify / who_is_it take a dict."""
    assets.resolve("dlib_face_resnet_keras")
    gallery = assets.resolve("faces_demo") / "lfw"
    encoding = course.img_to_encoding(gallery / "gallery" / "Nicole_Kidman" / "Nicole_Kidman_0001.jpg")
    assert encoding.shape == (1, 128) and encoding.dtype == np.float32
    database = {
        "kidman": encoding,
        "putin": course.img_to_encoding(gallery / "gallery" / "Vladimir_Putin" / "Vladimir_Putin_0001.jpg"),
    }
    probe = gallery / "probes" / "Nicole_Kidman_0004.jpg"
    distance, door_open = course.verify(probe, "kidman", database, verbose=False)
    assert door_open and distance < 0.6
    assert course.who_is_it(probe, database, verbose=False)[1] == "kidman"
    assert encoder.encode_images([probe, probe]).shape == (2, 128)
