"""Tests for utils.faces.database on hand-made encodings (no model needed: the database works on
encodings only)."""

import numpy as np
import pytest

from utils import errors
from utils.faces import database as database_module
from utils.faces.constants import NOT_RECOGNIZED
from utils.faces.database import DatabaseError, FaceDatabase, UnknownIdentityError


def _unit(index, dimension=128):
    vector = np.zeros(dimension, np.float32)
    vector[index] = 1.0
    return vector


def _random_database(seed=0, identities=50, per_identity=3, threshold=0.6):
    rng = np.random.default_rng(seed)
    database = FaceDatabase(threshold=threshold)
    for number in range(identities):
        database.enroll(f"person_{number}", rng.normal(0, 0.1, (per_identity, 128)).astype(np.float32))
    return database, rng


def test_enroll_verify_identify_by_hand():
    database = FaceDatabase(threshold=0.6)
    database.enroll("ann", np.stack([_unit(0), _unit(1)]))
    database.enroll("bob", _unit(2))
    assert database.identities == ["ann", "bob"] and database.num_vectors == 3 and len(database) == 2
    probe = _unit(1) * 0.8  # distance 0.2 to ann's 2nd vector, sqrt(1 + 0.64) to the others
    distance, match = database.verify(probe, "ann")
    assert distance == pytest.approx(0.2, abs=1e-6) and match
    distance, match = database.verify(probe, "bob")
    assert distance == pytest.approx(np.sqrt(1.64), abs=1e-6) and not match
    assert database.identify(probe) == (pytest.approx(0.2, abs=1e-6), "ann")


def test_beyond_threshold_is_not_recognized():
    database = FaceDatabase(threshold=0.6)
    database.enroll("ann", _unit(0))
    distance, identity = database.identify(_unit(0) * 0.35)  # distance 0.65
    assert identity == NOT_RECOGNIZED and distance == pytest.approx(0.65, abs=1e-6)
    assert database.identify(_unit(0) * 0.45)[1] == "ann"  # distance 0.55
    assert FaceDatabase().identify(_unit(0))[1] == NOT_RECOGNIZED  # empty database


@pytest.mark.parametrize("single_thread_rows", [1 << 18, 0])  # einsum path and BLAS path
def test_vectorised_identify_equals_the_course_loop(monkeypatch, single_thread_rows):
    monkeypatch.setattr(database_module, "_SINGLE_THREAD_ROWS", single_thread_rows)
    database, rng = _random_database(identities=200, per_identity=4, threshold=2.0)
    probes = rng.normal(0, 0.1, (40, 128)).astype(np.float32)
    answers = database.identify_many(probes)
    assert [database.identify(probe) for probe in probes[:5]] == answers[:5]  # one by one
    for probe, (distance, identity) in zip(probes, answers):
        best_name, best_distance = None, np.inf
        for name, encodings in database.items():  # the per-identity loop, min over enrolled vectors
            for encoding in encodings:
                loop_distance = np.linalg.norm(encoding - probe)
                if loop_distance < best_distance:
                    best_name, best_distance = name, loop_distance
        assert identity == best_name
        assert distance == pytest.approx(best_distance, rel=1e-5)
    scores = database.identity_distances(probes[0])
    assert min(scores, key=scores.get) == answers[0][1]


def test_unknown_identity_and_bad_shapes():
    database = FaceDatabase()
    database.enroll("ann", _unit(0))
    with pytest.raises(UnknownIdentityError, match="'zed' is not enrolled"):
        database.verify(_unit(0), "zed")
    with pytest.raises(ValueError, match=r"\(128,\)"):
        database.enroll("ann", np.zeros(64))
    with pytest.raises(ValueError, match="non-empty"):
        database.enroll("", _unit(0))


def test_remove_keeps_other_labels_right():
    database = FaceDatabase(threshold=0.6)
    for number in range(4):
        database.enroll(f"p{number}", _unit(number))
    assert database.remove("p1") == 1
    assert database.identities == ["p0", "p2", "p3"] and "p1" not in database
    assert database.identify(_unit(3))[1] == "p3"
    assert database.identify(_unit(1))[1] == NOT_RECOGNIZED
    with pytest.raises(UnknownIdentityError):
        database.remove("p1")


def test_enroll_many_bulk_enrolment():
    database = FaceDatabase(threshold=0.6)
    database.enroll_many(["b", "a", "b"], np.stack([_unit(0), _unit(1), _unit(2)]))
    assert sorted(database.identities) == ["a", "b"]
    assert database.encodings("b").shape == (2, 128)
    assert database.identify(_unit(2))[1] == "b"


def test_save_load_round_trip(tmp_path):
    database, rng = _random_database(identities=5, threshold=0.55)
    database.enroll("Zoë Ünicode", rng.normal(size=128).astype(np.float32))
    path = database.save(tmp_path / "sub" / "faces.npz")
    assert not list(path.parent.glob("*.tmp"))  # the temporary file was renamed away
    loaded = FaceDatabase.load(path)
    assert loaded.identities == database.identities and loaded.threshold == 0.55
    for name in database.identities:
        np.testing.assert_array_equal(loaded.encodings(name), database.encodings(name))
    assert FaceDatabase.load(path, threshold=0.4).threshold == 0.4
    with np.load(path, allow_pickle=False) as data:  # no object arrays inside
        assert data["identities"].dtype.kind == "U"


def test_corrupt_truncated_and_foreign_files_raise_clear_errors(tmp_path):
    database, _ = _random_database(identities=3)
    path = database.save(tmp_path / "faces.npz")
    payload = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DatabaseError, match="truncated.npz"):
        FaceDatabase.load(truncated)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file at all" * 10)
    with pytest.raises(DatabaseError, match="garbage.npz"):
        FaceDatabase.load(garbage)
    flipped = bytearray(payload)
    flipped[len(flipped) // 2] ^= 0xFF  # one damaged byte inside the vectors: zip CRC catches it
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(bytes(flipped))
    with pytest.raises(DatabaseError, match="damaged.npz"):
        FaceDatabase.load(damaged)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(DatabaseError, match="not a face database"):
        FaceDatabase.load(foreign)
    future = tmp_path / "future.npz"
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["format_version"] = np.array(99)
    np.savez(future, **arrays)
    with pytest.raises(DatabaseError, match="version 99"):
        FaceDatabase.load(future)
    with pytest.raises(FileNotFoundError, match="enroll"):
        FaceDatabase.load(tmp_path / "missing.npz")


def test_database_takes_encodings_not_images():
    database = FaceDatabase()
    with pytest.raises(errors.UsageError, match="encode_images"):
        database.enroll("ann", "ann.jpg")
    with pytest.raises(errors.UsageError, match="encode_images"):
        database.enroll("ann", np.zeros((96, 96, 3), np.uint8))
    with pytest.raises(errors.UsageError, match="encode_images"):
        database.enroll("ann", ["ann1.jpg", "ann2.jpg"])
    with pytest.raises(errors.UsageError, match="positive"):
        FaceDatabase(threshold=-0.6)
    assert database.num_vectors == 0 and len(database) == 0


def test_from_dict_takes_the_course_dictionary():
    course = {"ann": _unit(0)[None, :], "bob": np.stack([_unit(1), _unit(2)])}
    database = FaceDatabase.from_dict(course, threshold=0.5)
    assert database.identities == ["ann", "bob"] and database.num_vectors == 3 and database.threshold == 0.5
    assert [name for name, _ in database.items()] == ["ann", "bob"]
    assert database.identity_distances(_unit(2)) == {"ann": pytest.approx(np.sqrt(2)), "bob": 0.0}
    np.testing.assert_allclose(database.distances(_unit(0)), [0.0, np.sqrt(2), np.sqrt(2)], atol=1e-6)
    assert FaceDatabase.from_dict(course).threshold == 0.6  # the default threshold


def test_save_goes_through_the_atomic_writer_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    database, _ = _random_database(identities=2)
    path = database.save(tmp_path / "faces.npz")
    before = path.read_bytes()

    def broken_savez(handle, **arrays):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(database_module.np, "savez", broken_savez)
    database.enroll("late", _unit(5))
    with pytest.raises(OSError, match="disk full"):
        database.save(path)
    assert path.read_bytes() == before and sorted(item.name for item in tmp_path.iterdir()) == ["faces.npz"]
