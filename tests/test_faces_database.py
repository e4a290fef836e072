"""Tests for utils.faces.database on hand-made encodings (no model needed: the database works on
encodings only). The concurrency and kill -9 tests run real processes (issue 13, rows 1 and 11)."""

import io
import signal
import subprocess
import sys
import time
import warnings
import zipfile

import numpy as np
import pytest

from utils import config, errors
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


@pytest.mark.parametrize(
    "single_thread_rows, scoring_bytes", [(1 << 18, 64 << 20), (0, 0)]
)  # einsum + scoring matrix; BLAS + subtraction
def test_vectorised_identify_equals_the_course_loop(monkeypatch, single_thread_rows, scoring_bytes):
    monkeypatch.setattr(database_module, "_SINGLE_THREAD_ROWS", single_thread_rows)
    monkeypatch.setattr(database_module, "_SCORING_MATRIX_BYTES", scoring_bytes)
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


def test_batch_search_follows_enrolment_and_removal():
    """The batch path's cached scoring matrix is remade when the enrolled vectors change."""
    database, rng = _random_database(identities=50, per_identity=2, threshold=2.0)
    probes = rng.normal(0, 0.1, (30, 128)).astype(np.float32)
    first = database.identify_many(probes)[0][1]
    database.remove(first)
    assert all(identity != first for _, identity in database.identify_many(probes))
    database.enroll("exact copy", probes[3])
    assert database.identify_many(probes)[3] == (0.0, "exact copy")


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
    leftovers = sorted(item.name for item in tmp_path.iterdir() if item.name != "faces.npz.lock")  # the lock file stays
    assert path.read_bytes() == before and leftovers == ["faces.npz"]


# ------------------------------------------------------------------------------- issue 13 rows
_WRITER = r"""
import sys, time
import numpy as np
from utils.faces.database import FaceDatabase
path, worker, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
while time.time() < float(sys.argv[4]):  # start together
    time.sleep(0.005)
for number in range(rounds):
    with FaceDatabase.updating(path) as database:
        time.sleep(0.02)  # widen the window between reading and writing
        database.enroll(f"worker{worker}_round{number}", np.full(128, worker + number / 100, np.float32))
"""


def test_concurrent_writers_lose_no_identity(tmp_path):
    """Row 1: N real processes update one database at once; every identity survives."""
    path, workers, rounds = tmp_path / "faces.npz", 6, 4
    start = time.time() + 3.0
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(worker), str(rounds), str(start)],
            cwd=config.REPO_ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(workers)
    ]
    for process in processes:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
    database = FaceDatabase.load(path)
    assert len(database) == workers * rounds and database.num_vectors == workers * rounds
    assert sorted(database.identities) == sorted(f"worker{w}_round{r}" for w in range(workers) for r in range(rounds))


def test_updating_saves_only_when_the_block_succeeds(tmp_path):
    path = tmp_path / "faces.npz"
    with FaceDatabase.updating(path, threshold=0.5) as database:
        database.enroll("ann", _unit(0))
    with pytest.raises(UnknownIdentityError), FaceDatabase.updating(path, threshold=0.9) as database:  # noqa: PT012 (the updating block is what raises)
        database.enroll("bob", _unit(1))
        database.remove("zed")
    loaded = FaceDatabase.load(path)
    assert loaded.identities == ["ann"] and loaded.threshold == 0.5  # an existing database keeps its threshold
    assert FaceDatabase.stored_threshold(path) == 0.5
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        with FaceDatabase.updating(tmp_path / "missing.npz", create=False):
            pass


def test_threshold_is_validated_when_set():
    database = FaceDatabase()
    database.threshold = 0.5
    for bad in (0, -1, float("nan"), float("inf"), "abc", None):
        with pytest.raises(errors.UsageError, match="threshold must be a positive number"):
            database.threshold = bad
    assert database.threshold == 0.5


def _write_npz(path, arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _bomb_npz(path, arrays, rows=10**9):
    """An .npz whose ``vectors`` header declares ``rows`` x 128 float32 but holds 512 bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            if key == "vectors":
                np.lib.format.write_array_header_1_0(
                    buffer, {"descr": "<f4", "fortran_order": False, "shape": (rows, 128)}
                )
                buffer.write(b"\0" * 512)
            else:
                np.lib.format.write_array(buffer, value, allow_pickle=False)
            archive.writestr(f"{key}.npy", buffer.getvalue())


@pytest.mark.parametrize(
    "case, message",
    [
        ("npy renamed", r"single NumPy array \(\.npy\), not a face database"),
        ("2-D identities", r"identities has shape \(1, 3\) .*expected a 1-D array of text"),
        ("vector threshold", r"threshold has shape \(2,\) .*expected a single value"),
        (
            "header declares 1e9 x 128",
            r"vectors declares shape \(1000000000, 128\) float32 \(512\.0 GB\) but the "
            r"file holds 512 bytes",
        ),
        ("object array", r"labels holds Python objects"),
        ("bad name", r"contains a tab"),
        ("reserved name", r"'not recognized' cannot be a name"),
        ("negative threshold", r"threshold is -0\.6, not a positive number"),
        ("folder", r"is a folder, not a \.npz file"),
    ],
)
def test_malformed_files_raise_one_clear_error_naming_the_file(tmp_path, case, message):
    """Rows 8 and 14: each refused before allocating anything, with the file's name and the reason."""
    database, _ = _random_database(identities=3)
    with np.load(database.save(tmp_path / "good.npz"), allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    path = tmp_path / "bad.npz"
    if case == "npy renamed":
        with open(path, "wb") as handle:
            np.save(handle, arrays["vectors"])
    elif case == "2-D identities":
        _write_npz(path, dict(arrays, identities=arrays["identities"].reshape(1, 3)))
    elif case == "vector threshold":
        _write_npz(path, dict(arrays, threshold=np.array([0.6, 0.6])))
    elif case == "header declares 1e9 x 128":
        _bomb_npz(path, arrays)
    elif case == "object array":
        with open(path, "wb") as handle:
            np.savez(handle, **dict(arrays, labels=np.array([1, "x", None], dtype=object)))
    elif case == "bad name":
        _write_npz(path, dict(arrays, identities=np.array(["a\tb", "c", "d"])))
    elif case == "reserved name":
        _write_npz(path, dict(arrays, identities=np.array(["not recognized", "c", "d"])))
    elif case == "negative threshold":
        _write_npz(path, dict(arrays, threshold=np.array(-0.6)))
    else:
        path.mkdir()
    with pytest.raises(DatabaseError, match=message) as raised:
        FaceDatabase.load(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_header_sizes_are_checked_before_reading(tmp_path, monkeypatch):
    """The loader never asks NumPy to allocate what a header declares before checking it."""
    database, _ = _random_database(identities=2)
    with np.load(database.save(tmp_path / "good.npz"), allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    _bomb_npz(tmp_path / "bomb.npz", arrays, rows=10**12)

    def refuse(*args, **kwargs):
        raise AssertionError("np.load was called on a file whose headers were not checked")

    monkeypatch.setattr(database_module.np, "load", refuse)
    with pytest.raises(DatabaseError, match="bomb.npz is corrupt: vectors declares"):
        FaceDatabase.load(tmp_path / "bomb.npz")
    with pytest.raises(DatabaseError, match="bomb.npz"):
        FaceDatabase.stored_threshold(tmp_path / "bomb.npz")


@pytest.mark.parametrize(
    "name, reason",
    [
        ("ann\tsmith", "contains a tab"),
        ("ann\nsmith", "contains a newline"),
        ("ann\rsmith", "carriage return"),
        ("ann\x00", r"control character U\+0000"),
        ("ann\u2028smith", r"line separator U\+2028"),
        ("not recognized", "cannot be a name"),
        ("  Not Recognized ", "cannot be a name"),
        ("", "non-empty"),
        ("   ", "non-empty"),
    ],
)
def test_names_that_would_break_identify_output_are_refused(name, reason):
    """Row 10: in FaceDatabase.enroll, so every caller (CLI, course functions, notebooks) gets it."""
    database = FaceDatabase()
    with pytest.raises(errors.UsageError, match=reason):
        database.enroll(name, _unit(0))
    with pytest.raises(errors.UsageError, match=reason):
        database.enroll_many(["ok", name], np.stack([_unit(0), _unit(1)]))
    with pytest.raises(errors.UsageError, match=reason):
        FaceDatabase.from_dict({name: _unit(0)[None]})
    assert len(database) == 0 and database.num_vectors == 0
    assert database_module.check_identity("Zoë d'Ünicode-Smith (2)") == "Zoë d'Ünicode-Smith (2)"


_PAUSED_WRITER = r"""
import contextlib, sys, time
import numpy as np
from utils import files
from utils.faces.database import FaceDatabase

path, target, kind = sys.argv[1], sys.argv[2], sys.argv[3]
real_atomic_write = files.atomic_write

@contextlib.contextmanager
def pausing(destination, mode="wb", encoding=None):
    with real_atomic_write(destination, mode, encoding) as handle:
        if str(destination).endswith(target):
            handle.write(b"half of a file")
            handle.flush()
            print("paused", flush=True)
            time.sleep(120)  # killed here, mid-write
        yield handle

files.atomic_write = pausing
database = FaceDatabase.load(path, index=kind)
database.enroll("late", np.full(128, 0.3, np.float32))
database.save(path)
"""


@pytest.mark.parametrize("target, kind", [("faces.npz", "exact"), ("faces.npz.faiss", "ivf-flat")])
def test_kill_9_during_a_save_leaves_the_database_whole_and_the_next_save_cleans_up(tmp_path, target, kind):
    """Row 11: a writer killed with SIGKILL mid-write (database or index) leaves the old files intact;
    its temporary file is removed by the next save."""
    rng = np.random.default_rng(3)
    database = FaceDatabase(index=kind)
    database.enroll_many([f"p{number // 2}" for number in range(2000)], rng.normal(0, 0.1, (2000, 128)))
    path = database.save(tmp_path / "faces.npz")
    before = path.read_bytes()
    writer = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_WRITER, str(path), target, kind],
        cwd=config.REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "paused", writer.stderr.read()
        temporaries = list(tmp_path.glob(f".{target}.{writer.pid}.*.tmp"))
        assert len(temporaries) == 1
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.stdout.close()
        writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL and temporaries[0].exists()
    assert path.read_bytes() == before  # the old database, whole
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the saved index is still the one the database names
        survivor = FaceDatabase.load(path)
    assert "late" not in survivor and survivor.num_vectors == 2000
    survivor.enroll("later", _unit(4))
    survivor.save(path)  # the next write cleans the dead writer's temporary
    assert not temporaries[0].exists() and not list(tmp_path.glob("*.tmp"))
    assert "later" in FaceDatabase.load(path)
