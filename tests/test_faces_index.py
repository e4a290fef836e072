"""Tests for utils.faces.index (the FAISS index behind FaceDatabase) on hand-made encodings.

The galleries are clustered like face encodings (people with a few photos each around their own
centre); no model is needed. Sizes are small (a few thousand vectors) so every test takes well
under a second or two; the speed at 10^6 is measured by ``benchmarks/identify_speed.py``.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from utils import config
from utils.errors import DatabaseError, UsageError
from utils.faces import index as index_module
from utils.faces.constants import NOT_RECOGNIZED
from utils.faces.database import FaceDatabase
from utils.faces.index import ApproximateIndex


def _face_like(rng, count):
    """Vectors spread like face encodings' centres: ~30 effective dimensions, total variance 0.24."""
    spectrum = np.exp(-np.arange(128) / 12.0)
    spectrum *= 0.24 / spectrum.sum()
    rotation, _ = np.linalg.qr(np.random.default_rng(99).normal(size=(128, 128)))
    return (rng.normal(size=(count, 128)) * np.sqrt(spectrum)) @ rotation.T


def _gallery(people=1000, photos=3, seed=0):
    """Names and vectors of ``people`` people with ``photos`` photos each (face-like spreads)."""
    rng = np.random.default_rng(seed)
    centres = _face_like(rng, people)
    vectors = (np.repeat(centres, photos, axis=0) + rng.normal(0, 0.027, (people * photos, 128))).astype(np.float32)
    names = np.repeat([f"person_{number}" for number in range(people)], photos)
    return names, vectors, centres, rng


def _probes(centres, rng, genuine=200, strangers=100):
    """Other photos of enrolled people, then people never enrolled."""
    chosen = centres[rng.choice(len(centres), genuine, replace=False)]
    near = chosen + rng.normal(0, 0.027, chosen.shape)
    far = _face_like(rng, strangers) + rng.normal(0, 0.027, (strangers, 128))
    return np.concatenate([near, far]).astype(np.float32)


def _database(kind, people=1000, photos=3, threshold=0.6, seed=0):
    names, vectors, centres, rng = _gallery(people, photos, seed)
    database = FaceDatabase(threshold=threshold, index=kind)
    database.enroll_many(names, vectors)
    return database, _probes(centres, rng)


def test_list_and_probe_counts_and_kinds():
    assert [index_module.list_count(k) for k in (1, 1_000, 10_000, 10**6, 10**9)] == [1, 16, 256, 2048, 65536]
    assert [index_module.probe_count(lists) for lists in (3, 64, 512, 2048)] == [3, 32, 128, 341]
    assert index_module.resolve_kind("auto", 249_999) == "exact"
    assert index_module.resolve_kind("auto", 250_000) == "ivf-pq"
    assert index_module.resolve_kind("auto", 130_000, current="ivf-pq") == "ivf-pq"  # hysteresis
    assert index_module.resolve_kind("auto", 120_000, current="ivf-pq") == "exact"
    assert index_module.resolve_kind("ivf-flat", index_module.MIN_VECTORS - 1) == "exact"
    with pytest.raises(UsageError, match="index must be one of auto, exact, ivf-pq"):
        FaceDatabase(index="annoy")
    assert index_module.index_path("dir/faces.npz").as_posix() == "dir/faces.npz.faiss"


def test_squared_distances_equal_numpy_and_check_their_arguments():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(50, 128)).astype(np.float32)
    probes = rng.normal(size=(3, 128)).astype(np.float32)
    rows = rng.integers(0, 50, (3, 7))
    expected = ((vectors[rows] - probes[:, None, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(index_module.squared_distances(probes, vectors, rows), expected, rtol=1e-5)
    with pytest.raises(UsageError, match="do not index 50 vectors"):
        index_module.squared_distances(probes, vectors, rows + 50)
    with pytest.raises(UsageError, match="C-contiguous float32"):
        index_module.squared_distances(probes, vectors.astype(np.float64), rows)


@pytest.mark.parametrize("kind", ["ivf-pq", "ivf-flat", "hnsw"])
def test_exact_and_approximate_agree_on_a_small_gallery(kind):
    exact, probes = _database("exact")
    approximate, _ = _database(kind)
    assert approximate.build_index() == kind and exact.search_kind == "exact"
    exact_rows, rows = exact.nearest_rows(probes), approximate.nearest_rows(probes)
    genuine_recall, stranger_recall = np.mean((rows == exact_rows)[:200]), np.mean((rows == exact_rows)[200:])
    assert genuine_recall >= 0.99 and stranger_recall >= 0.9, f"{kind}: {genuine_recall:.3f}, {stranger_recall:.3f}"
    exact_answers, answers = exact.identify_many(probes), approximate.identify_many(probes)
    same = rows == exact_rows
    assert [answer for answer, hit in zip(answers, same) if hit] == [
        answer for answer, hit in zip(exact_answers, same) if hit
    ]  # identical tuples where the row is found
    assert sum(answer[1] != NOT_RECOGNIZED for answer in exact_answers[:200]) >= 190  # genuine probes match


@pytest.mark.parametrize("kind", ["ivf-pq", "ivf-flat"])
def test_with_every_list_probed_the_candidates_hold_the_exact_nearest(kind):
    names, vectors, centres, rng = _gallery()
    probes = _probes(centres, rng)
    ann = ApproximateIndex.build(kind, vectors, np.arange(len(vectors)))
    ann.probes = ann.lists
    candidates = ann.search(probes, index_module.RERANK)
    exact = FaceDatabase(index="exact")
    exact.enroll_many(names, vectors)
    exact = exact.nearest_rows(probes)  # rows in enrolment order = the ids given to the index
    assert all(nearest in row for nearest, row in zip(exact, candidates))


def test_reranking_makes_every_distance_and_decision_exact():
    """Even where the index misses the nearest vector, the answer is a real vector's exact distance."""
    database, probes = _database("ivf-pq", threshold=0.6)
    rows = database.nearest_rows(probes)  # found through the index
    # Put the threshold in the middle of the nearest distances: many decisions are close calls.
    distances = np.array([distance for distance, _ in database.identify_many(probes)])
    database.threshold = float(np.median(distances))
    answers = database.identify_many(probes)
    for probe, row, (distance, identity) in zip(probes, rows, answers):
        every_distance = database.distances(probe)  # exact, to every enrolled vector
        assert distance == float(every_distance[row])
        assert (identity != NOT_RECOGNIZED) == (distance < database.threshold)
        assert distance >= float(every_distance.min())  # never closer than the real nearest vector
    assert 0.3 < np.mean([identity == NOT_RECOGNIZED for _, identity in answers]) < 0.7


@pytest.mark.parametrize("kind", ["ivf-pq", "hnsw"])
def test_enrollment_is_incremental_and_removal_works(kind):
    database, probes = _database(kind)
    database.build_index()
    lists_before = database.index_info()["lists"]
    newcomer = np.full(128, 0.5, np.float32)
    database.enroll("newcomer", np.stack([newcomer, newcomer + 0.01]))
    info = database.index_info()
    assert info["built"] and info["lists"] == lists_before and info["vectors"] == 3002
    assert database.identify(newcomer + 0.005) == (pytest.approx(0.005 * np.sqrt(128), rel=1e-3), "newcomer")
    target = database.identify(probes[0])[1]
    database.remove(target)
    assert database.identify(probes[0])[1] != target
    assert all(identity != target for _, identity in database.identify_many(probes))
    held = database.index_info()["removed_but_held"]
    assert held == (3 if kind == "hnsw" else 0)  # HNSW cannot delete: tombstones, filtered out


def test_the_index_is_rebuilt_when_the_gallery_grows_fourfold():
    database, _ = _database("ivf-flat", people=400)
    database.build_index()
    assert database.index_info()["lists"] == index_module.list_count(1200) == 16
    names, vectors, centres, rng = _gallery(people=6000, seed=5)
    database.enroll_many(np.char.add("more_", names), vectors)
    probe = vectors[123] + 0.001
    assert database.identify(probe)[1] == "more_" + names[123]
    assert database.index_info()["lists"] == index_module.list_count(19_200) == 256


def test_hnsw_is_rebuilt_when_a_quarter_is_removed():
    database, _ = _database("hnsw", people=600)
    database.build_index()
    for number in range(200):
        database.remove(f"person_{number}")
    assert database.index_info()["removed_but_held"] == 600
    assert database.identify(database.encodings("person_300")[0])[1] == "person_300"
    assert database.index_info()["removed_but_held"] == 0  # 600 of 1800 dead: rebuilt at that query


def test_save_load_round_trip_keeps_the_index(tmp_path):
    database, probes = _database("ivf-pq")
    before = database.identify_many(probes)
    path = database.save(tmp_path / "faces.npz")
    index_file = tmp_path / "faces.npz.faiss"
    assert index_file.is_file() and not list(tmp_path.glob("*.tmp"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sound index loads without any warning
        loaded = FaceDatabase.load(path)
    assert loaded.index_kind == "ivf-pq" and loaded.index_info()["built"]  # read, not rebuilt
    assert loaded.identify_many(probes) == before
    loaded.enroll("late", np.full(128, 0.4, np.float32))
    loaded.save(path)
    again = FaceDatabase.load(path)
    assert again.identify(np.full(128, 0.4, np.float32))[1] == "late" and again.index_info()["vectors"] == 3001


def test_a_stale_index_is_rebuilt_with_a_warning_or_refused(tmp_path):
    database, probes = _database("ivf-flat")
    path = database.save(tmp_path / "faces.npz")
    index_file = tmp_path / "faces.npz.faiss"
    old_index = index_file.read_bytes()
    database.enroll("late", np.full(128, 0.4, np.float32))
    database.save(path)
    index_file.write_bytes(old_index)  # the index of the previous contents
    with pytest.warns(UserWarning, match=r"faces\.npz\.faiss does not match its database .*rebuilt"):
        loaded = FaceDatabase.load(path)
    assert not loaded.index_info()["built"]
    assert loaded.identify(np.full(128, 0.4, np.float32))[1] == "late"  # the rebuilt index knows her
    with pytest.raises(DatabaseError, match=r"faces\.npz\.faiss does not match .*refusing it"):
        FaceDatabase.load(path, rebuild_index=False)


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "garbage-with-right-checksum"])
def test_a_damaged_or_missing_index_is_never_trusted(tmp_path, damage, monkeypatch):
    database, probes = _database("ivf-pq", people=500)
    expected = database.identify_many(probes)
    path = database.save(tmp_path / "faces.npz")
    index_file = tmp_path / "faces.npz.faiss"
    payload = bytearray(index_file.read_bytes())
    if damage == "flip":
        payload[len(payload) // 2] ^= 0x01
        index_file.write_bytes(bytes(payload))
    elif damage == "truncate":
        index_file.write_bytes(bytes(payload[:1000]))
    elif damage == "delete":
        index_file.unlink()
    else:  # bytes FAISS cannot parse, with a checksum that matches: FAISS's own error is reported
        index_file.write_bytes(b"not a faiss index")
        real = index_module._sha256_of_file
        monkeypatch.setattr(
            index_module, "_sha256_of_file", lambda file: _saved_sha(path) if file == index_file else real(file)
        )
    reason = {
        "flip": "does not match",
        "truncate": "does not match",
        "delete": "is missing",
        "garbage-with-right-checksum": "cannot be read by FAISS",
    }[damage]
    with pytest.warns(UserWarning, match=reason):
        loaded = FaceDatabase.load(path)
    assert loaded.identify_many(probes) == expected
    with pytest.raises(DatabaseError, match=f"faces.npz.faiss {reason}|{reason}"):
        FaceDatabase.load(path, rebuild_index=False)


def _saved_sha(path):
    with np.load(path, allow_pickle=False) as data:
        return str(data["index_sha256"])


def test_an_exact_database_writes_no_index_and_removes_a_stale_one(tmp_path):
    database, _ = _database("ivf-flat", people=400)
    path = database.save(tmp_path / "faces.npz")
    assert (tmp_path / "faces.npz.faiss").is_file()
    database.index_kind = "exact"
    database.save(path)
    assert not (tmp_path / "faces.npz.faiss").exists() and FaceDatabase.load(path).index_kind == "exact"
    small = FaceDatabase()
    small.enroll("ann", np.zeros(128))
    small.save(tmp_path / "small.npz")
    assert not (tmp_path / "small.npz.faiss").exists()  # "auto" below 250,000 vectors: exact


def test_importing_utils_faces_does_not_import_faiss():
    code = "import sys, utils.faces, utils.faces.index; print('faiss' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0 and completed.stdout.strip() == "False", completed.stderr
