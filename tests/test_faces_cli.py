"""Tests for utils.faces.cli: ``python -m utils.faces enroll|verify|identify|evaluate`` and --help.

Error-path tests stop before the encoder is needed (no weights). The round trips use the real
MTCNN + converted dlib ResNet (asset ``dlib_face_resnet_keras``) on the faces_demo LFW gallery.
"""

import io
import json
import os
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest

from utils import assets, config, errors, files, image_io
from utils.faces import align, cli, encoder
from utils.faces.database import FaceDatabase


@pytest.fixture(scope="module")
def gallery():
    return assets.resolve("faces_demo") / "lfw"


def _run(argv, capsys):
    code = cli.main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_identify_with_missing_database_exits_2(tmp_path, capsys):
    code, _, err = _run(["identify", "--db", tmp_path / "none.npz", tmp_path / "x.jpg"], capsys)
    assert code == 2 and "does not exist" in err and "enroll" in err


def test_verify_unknown_identity_exits_2(tmp_path, capsys):
    database = FaceDatabase()
    database.enroll("ann", np.zeros(128, np.float32))
    database.save(tmp_path / "db.npz")
    code, _, err = _run(["verify", "--db", tmp_path / "db.npz", "--name", "bob", tmp_path / "x.jpg"], capsys)
    assert code == 2 and "unknown identity 'bob'" in err and "ann" in err


def test_enroll_unreadable_image_exits_2_and_names_it(tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    code, _, err = _run(["enroll", "--db", tmp_path / "db.npz", "--name", "ann", broken], capsys)
    assert code == 2 and "broken.jpg" in err
    assert not (tmp_path / "db.npz").exists()


def test_corrupt_database_exits_2(tmp_path, capsys):
    (tmp_path / "db.npz").write_bytes(b"garbage")
    code, _, err = _run(["identify", "--db", tmp_path / "db.npz", tmp_path / "x.jpg"], capsys)
    assert code == 2 and "db.npz" in err


@pytest.mark.slow
def test_enroll_no_face_exits_2(tmp_path, capsys):
    grey = tmp_path / "grey.png"
    image_io.save_image(grey, np.full((200, 200, 3), 128, np.uint8))
    code, _, err = _run(["enroll", "--db", tmp_path / "db.npz", "--name", "ann", grey], capsys)
    assert code == 2 and "no face found in" in err and "grey.png" in err


@pytest.mark.slow
def test_cli_round_trip_on_real_images(tmp_path, gallery, capsys):
    """Enroll two people (3 gallery images each), then verify and identify probes (real weights)."""
    assets.resolve("dlib_face_resnet_keras")
    db = tmp_path / "faces.npz"
    for name in ("Colin_Powell", "Serena_Williams"):
        images = sorted((gallery / "gallery" / name).glob("*.jpg"))
        code, out, _ = _run(["enroll", "--db", db, "--name", name, *images], capsys)
        assert code == 0 and f"enrolled 3 image(s) of {name}" in out
    assert FaceDatabase.load(db).identities == ["Colin_Powell", "Serena_Williams"]

    probe = gallery / "probes" / "Colin_Powell_0004.jpg"
    code, out, _ = _run(["verify", "--db", db, "--name", "Colin_Powell", probe], capsys)
    assert code == 0 and "MATCH Colin_Powell" in out
    code, out, _ = _run(["verify", "--db", db, "--name", "Serena_Williams", probe], capsys)
    assert code == 1 and "NO MATCH" in out

    stranger = gallery / "probes" / "Tiger_Woods_0001.jpg"
    code, out, _ = _run(
        ["identify", "--db", db, probe, gallery / "probes" / "Serena_Williams_0004.jpg", stranger], capsys
    )
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) >= 3
    assert "\tColin_Powell\t" in lines[0]
    assert any("Serena_Williams_0004.jpg" in line and "\tSerena_Williams\t" in line for line in lines)
    assert all("not recognized" in line for line in lines if "Tiger_Woods" in line)


@pytest.mark.slow
def test_evaluate_command_writes_json_and_plot(tmp_path, capsys):
    """`evaluate` on 8 + 8 real LFW pairs (2 folds of 4 + 4) with real weights."""
    assets.resolve("dlib_face_resnet_keras")
    lfw = assets.resolve("lfw")
    lines = (lfw / "pairs.txt").read_text().splitlines()
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(["2\t4"] + lines[1:5] + lines[301:305] + lines[601:605] + lines[901:905]))
    out_json, out_png = tmp_path / "eval.json", tmp_path / "roc.png"
    code, out, _ = _run(
        [
            "evaluate",
            "--pairs",
            pairs,
            "--images",
            lfw / "images",
            "--json",
            out_json,
            "--plot",
            out_png,
            "--quiet",
            "--no-cache",
        ],
        capsys,
    )
    assert code == 0 and "accuracy" in out
    figures = json.loads(out_json.read_text())
    assert {"pairs", "accuracy", "accuracy_std", "threshold", "auc", "eer", "val_at_far_1e-3"} <= set(figures)
    assert figures["pairs"] == 16 and out_png.stat().st_size > 1000
    code, out, _ = _run(
        [
            "evaluate",
            "--pairs",
            pairs,
            "--images",
            lfw / "images",
            "--threshold",
            "0.6",
            "--json",
            out_json,
            "--quiet",
            "--no-cache",
        ],
        capsys,
    )
    assert code == 0 and json.loads(out_json.read_text())["threshold"] == 0.6


def test_module_entry_point_exit_code(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "utils.faces", "identify", "--db", str(tmp_path / "missing.npz"), "x.jpg"],
        cwd=config.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2 and "does not exist" in completed.stderr


def test_help_of_the_command_and_of_each_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "python -m utils.faces" in out
    assert all(command in out for command in ("enroll", "verify", "identify", "evaluate", "set-threshold", "reindex"))
    for command, option in (
        ("enroll", "--name"),
        ("verify", "--threshold"),
        ("identify", "--db"),
        ("evaluate", "--max-pairs-per-fold"),
        ("set-threshold", "threshold"),
        ("reindex", "--index"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--help"])
        assert exit_info.value.code == 0 and option in capsys.readouterr().out


def test_bad_pairs_file_exits_2_with_one_line(tmp_path, capsys):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("two folds\n")
    code, _, err = _run(["evaluate", "--pairs", pairs, "--images", tmp_path, "--quiet"], capsys)
    assert code == 2 and err.count("\n") == 1 and "pairs.txt:1: header must be" in err


def test_negative_threshold_exits_2(tmp_path, capsys):
    code, _, err = _run(
        ["enroll", "--db", tmp_path / "db.npz", "--name", "ann", "--threshold", "-1", tmp_path / "x.jpg"], capsys
    )
    assert code == 2 and err.startswith("error: threshold must be a positive number")


# ------------------------------------------------------------------------------- issue 13 rows
def _fake_encoder(monkeypatch, calls=None):
    """Replace the encoder by a deterministic one (no TensorFlow): one vector per image name."""

    def encode_images(images, **kwargs):
        if calls is not None:
            calls.append(list(images))
        return np.stack([np.full(128, (sum(map(ord, str(image))) % 97) / 200, np.float32) for image in images])

    monkeypatch.setattr(encoder, "encode_images", encode_images)


def _database_file(path, threshold=0.6, names=("ann",)):
    database = FaceDatabase(threshold=threshold)
    for number, name in enumerate(names):
        database.enroll(name, np.full(128, number / 10, np.float32))
    return database.save(path)


_CONCURRENT_ENROLL = r"""
import sys, time
import numpy as np
from utils.faces import cli, encoder

def encode_images(images, **kwargs):
    time.sleep(0.3)  # the encoder's time: today it runs between reading and writing the database
    return np.full((len(images), 128), float(sys.argv[2]), np.float32)

encoder.encode_images = encode_images
while time.time() < float(sys.argv[3]):  # start together
    time.sleep(0.005)
sys.exit(cli.main(["enroll", "--db", sys.argv[1], "--name", f"person{sys.argv[2]}", "photo.jpg"]))
"""


def test_concurrent_enroll_commands_keep_every_identity(tmp_path):
    """Row 1: 8 `enroll` processes into one database at the same time (the encoder replaced by a 0.3 s
    stand-in, so no TensorFlow): all exit 0 and all 8 identities are in the database."""
    db = tmp_path / "faces.npz"
    start = time.time() + 4.0
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT_ENROLL, str(db), str(number), str(start)],
            cwd=config.REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(8)
    ]
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0 and "enrolled 1 image(s)" in out, err
    assert sorted(FaceDatabase.load(db).identities) == [f"person{number}" for number in range(8)]


def test_enroll_does_not_rewrite_the_threshold_of_an_existing_database(tmp_path, capsys, monkeypatch):
    """Row 2: `enroll --threshold 5` on an existing database is refused before any work; only
    `set-threshold` changes the threshold, and it says how."""
    calls = []
    _fake_encoder(monkeypatch, calls)
    db = _database_file(tmp_path / "faces.npz", threshold=0.6)
    before = db.read_bytes()
    code, _, err = _run(["enroll", "--db", db, "--name", "eve", "--threshold", "5", tmp_path / "eve.jpg"], capsys)
    assert code == 2 and err.count("\n") == 1 and "already has threshold 0.6" in err and "set-threshold" in err
    assert db.read_bytes() == before and calls == []
    code, out, _ = _run(["enroll", "--db", db, "--name", "eve", "--threshold", "0.6", tmp_path / "eve.jpg"], capsys)
    assert code == 0 and FaceDatabase.load(db).threshold == 0.6  # the same value is fine
    code, out, _ = _run(["set-threshold", "--db", db, "5"], capsys)
    assert code == 0 and "threshold changed from 0.6 to 5 (looser" in out
    code, out, _ = _run(["set-threshold", "--db", db, "0.5"], capsys)
    assert code == 0 and "from 5 to 0.5 (stricter" in out and FaceDatabase.stored_threshold(db) == 0.5
    code, _, err = _run(["set-threshold", "--db", tmp_path / "none.npz", "0.5"], capsys)
    assert code == 2 and "none.npz" in err and not (tmp_path / "none.npz").exists()
    code, _, err = _run(["set-threshold", "--db", db, "nan"], capsys)
    assert code == 2 and "positive number" in err


def test_new_database_takes_the_enroll_threshold(tmp_path, capsys, monkeypatch):
    _fake_encoder(monkeypatch)
    db = tmp_path / "faces.npz"
    code, out, _ = _run(["enroll", "--db", db, "--name", "ann", "--threshold", "0.5", tmp_path / "a.jpg"], capsys)
    assert code == 0 and FaceDatabase.load(db).threshold == 0.5


def test_identify_reports_a_bad_image_and_goes_on(tmp_path, capsys, monkeypatch):
    """Row 6 (without the encoder): an unreadable image and a face-free one are reported on stderr,
    one line each; the other images are still identified; exit 2 at the end."""
    db = _database_file(tmp_path / "faces.npz", names=("ann", "bob"))

    def encode_all_faces(image, **kwargs):
        name = str(image)
        if name.endswith("bomb.png"):
            raise errors.ImageError(f"{name}: declares 50000x50000 pixels (a decompression bomb?)")
        if name.endswith("cat.jpg"):
            raise errors.NoFaceError(f"no face found in {name}")
        face = align.Face(box=(1.0, 2.0, 30.0, 40.0), confidence=0.99, keypoints=np.zeros((5, 2)))
        return np.full((1, 128), 0.1, np.float32), [face]

    monkeypatch.setattr(encoder, "encode_all_faces", encode_all_faces)
    code, out, err = _run(["identify", "--db", db, "bomb.png", "bob.jpg", "cat.jpg", "bob2.jpg"], capsys)
    assert code == 2
    assert err.splitlines() == [
        "error: bomb.png: declares 50000x50000 pixels (a decompression bomb?)",
        "error: no face found in cat.jpg",
    ]
    assert [line.split("\t")[0] for line in out.splitlines()] == ["bob.jpg", "bob2.jpg"]
    assert all("\tbob\tdistance=0.0000" in line for line in out.splitlines())


def _bomb_png(path, side=50_000):
    """A PNG whose header declares side x side pixels (its data is a few bytes)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.slow
def test_identify_goes_on_after_a_decompression_bomb_and_a_broken_file(tmp_path, gallery, capsys):
    """Row 6 with real images and the real encoder: a 50000x50000 PNG bomb and a broken JPEG are
    reported (one line each, naming the file); the real photo is identified. Needs utils.image_io
    to turn PIL's DecompressionBombError into an ImageError (helper B's side of row 6)."""
    assets.resolve("dlib_face_resnet_keras")
    db = tmp_path / "faces.npz"
    images = sorted((gallery / "gallery" / "Colin_Powell").glob("*.jpg"))
    assert _run(["enroll", "--db", db, "--name", "Colin_Powell", *images], capsys)[0] == 0
    bomb = _bomb_png(tmp_path / "bomb.png")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    probe = gallery / "probes" / "Colin_Powell_0004.jpg"
    code, out, err = _run(["identify", "--db", db, bomb, broken, probe], capsys)
    assert code == 2 and len(err.splitlines()) == 2 and "Traceback" not in err
    assert "bomb.png" in err.splitlines()[0] and "broken.jpg" in err.splitlines()[1]
    assert "\tColin_Powell\t" in out and "Colin_Powell_0004.jpg" in out


@pytest.mark.parametrize("case", ["npy renamed", "vector threshold", "header declares 1e9 x 128", "folder"])
def test_malformed_database_exits_2_with_one_line_naming_it(tmp_path, capsys, case):
    """Row 8 through the command line."""
    db = tmp_path / "bad.npz"
    good = _database_file(tmp_path / "good.npz")
    with np.load(good, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    if case == "npy renamed":
        with open(db, "wb") as handle:
            np.save(handle, arrays["vectors"])
    elif case == "vector threshold":
        with open(db, "wb") as handle:
            np.savez(handle, **dict(arrays, threshold=np.array([0.6, 0.6])))
    elif case == "header declares 1e9 x 128":  # the vectors' header claims 512 GB; 512 bytes follow
        with zipfile.ZipFile(db, "w") as archive:
            for key, value in arrays.items():
                buffer = io.BytesIO()
                if key == "vectors":
                    np.lib.format.write_array_header_1_0(
                        buffer, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 128)}
                    )
                    buffer.write(b"\0" * 512)
                else:
                    np.lib.format.write_array(buffer, value, allow_pickle=False)
                archive.writestr(f"{key}.npy", buffer.getvalue())
    else:
        db.mkdir()
    for argv in (
        ["identify", "--db", db, tmp_path / "x.jpg"],
        ["verify", "--db", db, "--name", "ann", "x.jpg"],
        ["enroll", "--db", db, "--name", "ann", tmp_path / "x.jpg"],
    ):
        code, _, err = _run(argv, capsys)
        assert code == 2 and err.count("\n") == 1 and "bad.npz" in err and "Traceback" not in err, (argv, err)


@pytest.mark.parametrize("case", ["folder", "under a file", "read-only folder"])
def test_unwritable_database_path_is_refused_before_any_work(tmp_path, capsys, monkeypatch, case):
    """Row 9: checked before the images are encoded."""
    calls = []
    _fake_encoder(monkeypatch, calls)
    if case == "folder":
        db = tmp_path / "faces.npz"
        db.mkdir()
        expected = "is a folder"
    elif case == "under a file":
        (tmp_path / "plain").write_text("a file")
        db = tmp_path / "plain" / "faces.npz"
        expected = "is a file, not a folder"
    else:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        db = folder / "faces.npz"
        expected = "is not writable"
        if os.geteuid() == 0:  # root may write anywhere: emulate what any other user gets
            real_access = os.access
            monkeypatch.setattr(
                files.os, "access", lambda path, mode: False if str(path) == str(folder) else real_access(path, mode)
            )
    code, _, err = _run(["enroll", "--db", db, "--name", "ann", tmp_path / "a.jpg"], capsys)
    assert code == 2 and err.count("\n") == 1 and expected in err and str(db) in err and calls == []
    if case == "read-only folder":
        folder.chmod(0o755)
        assert list(folder.iterdir()) == []


@pytest.mark.parametrize("name", ["ann\tsmith", "ann\nsmith", "not recognized"])
def test_names_that_break_the_output_are_refused_before_any_work(tmp_path, capsys, monkeypatch, name):
    """Row 10 through the command line."""
    calls = []
    _fake_encoder(monkeypatch, calls)
    code, _, err = _run(["enroll", "--db", tmp_path / "faces.npz", "--name", name, tmp_path / "a.jpg"], capsys)
    assert code == 2 and err.count("\n") == 1 and calls == [] and not (tmp_path / "faces.npz").exists()


def test_reindex_builds_the_chosen_index_and_identify_notes_a_stale_one(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    database = FaceDatabase()
    database.enroll_many([f"p{number // 2}" for number in range(3000)], rng.normal(0, 0.1, (3000, 128)))
    db = database.save(tmp_path / "faces.npz")
    code, out, _ = _run(["reindex", "--db", db, "--index", "ivf-flat"], capsys)
    assert code == 0 and "3000 encodings searched by ivf-flat" in out and (tmp_path / "faces.npz.faiss").is_file()
    loaded = FaceDatabase.load(db)
    assert loaded.index_kind == "ivf-flat" and loaded.index_info()["built"]
    (tmp_path / "faces.npz.faiss").write_bytes(b"stale")
    face = align.Face(box=(0, 0, 1, 1), confidence=1.0, keypoints=np.zeros((5, 2)))
    monkeypatch.setattr(encoder, "encode_all_faces", lambda image, **kwargs: (database.encodings("p7")[:1], [face]))
    code, out, err = _run(["identify", "--db", db, "x.jpg"], capsys)
    assert code == 0 and "\tp7\tdistance=0.0000" in out
    assert err.count("\n") == 1 and err.startswith("note: index ") and "does not match its database" in err


def test_identify_says_when_it_builds_an_index_that_was_never_saved(tmp_path, capsys, monkeypatch):
    """A database written before the index existed (no index_sha256 member) gets one built in memory,
    with one note saying how to save it."""
    rng = np.random.default_rng(1)
    database = FaceDatabase(index="ivf-flat")
    database.enroll_many([f"p{number}" for number in range(2000)], rng.normal(0, 0.1, (2000, 128)))
    saved = database.save(tmp_path / "new.npz")
    with np.load(saved, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files if key != "index_sha256"}
    db = tmp_path / "old.npz"
    with open(db, "wb") as handle:
        np.savez(handle, **arrays)
    face = align.Face(box=(0, 0, 1, 1), confidence=1.0, keypoints=np.zeros((5, 2)))
    monkeypatch.setattr(encoder, "encode_all_faces", lambda image, **kwargs: (database.encodings("p5"), [face]))
    code, out, err = _run(["identify", "--db", db, "x.jpg"], capsys)
    assert code == 0 and "\tp5\tdistance=0.0000" in out
    assert err.count("\n") == 1 and "has no saved index for its 2,000 encodings" in err and "reindex" in err
