"""Tests for utils.faces.cli: ``python -m utils.faces enroll|verify|identify|evaluate`` and --help.

Error-path tests stop before the encoder is needed (no weights). The round trips use the real
MTCNN + converted dlib ResNet (asset ``dlib_face_resnet_keras``) on the faces_demo LFW gallery.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from utils import assets, config, image_io
from utils.faces import cli
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
    code, out, _ = _run(["identify", "--db", db, probe, gallery / "probes" / "Serena_Williams_0004.jpg",
                         stranger], capsys)
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
    code, out, _ = _run(["evaluate", "--pairs", pairs, "--images", lfw / "images", "--json", out_json,
                         "--plot", out_png, "--quiet", "--no-cache"], capsys)
    assert code == 0 and "accuracy" in out
    figures = json.loads(out_json.read_text())
    assert {"pairs", "accuracy", "accuracy_std", "threshold", "auc", "eer", "val_at_far_1e-3"} <= set(figures)
    assert figures["pairs"] == 16 and out_png.stat().st_size > 1000
    code, out, _ = _run(["evaluate", "--pairs", pairs, "--images", lfw / "images", "--threshold", "0.6",
                         "--json", out_json, "--quiet", "--no-cache"], capsys)
    assert code == 0 and json.loads(out_json.read_text())["threshold"] == 0.6


def test_module_entry_point_exit_code(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "utils.faces", "identify", "--db",
                                str(tmp_path / "missing.npz"), "x.jpg"], cwd=config.REPO_ROOT,
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2 and "does not exist" in completed.stderr


def test_help_of_the_command_and_of_each_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and "python -m utils.faces" in out
    assert all(command in out for command in ("enroll", "verify", "identify", "evaluate"))
    for command, option in (("enroll", "--name"), ("verify", "--threshold"), ("identify", "--db"),
                            ("evaluate", "--max-pairs-per-fold")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--help"])
        assert exit_info.value.code == 0 and option in capsys.readouterr().out


def test_bad_pairs_file_exits_2_with_one_line(tmp_path, capsys):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("two folds\n")
    code, _, err = _run(["evaluate", "--pairs", pairs, "--images", tmp_path, "--quiet"], capsys)
    assert code == 2 and err.count("\n") == 1 and "pairs.txt:1: header must be" in err


def test_negative_threshold_exits_2(tmp_path, capsys):
    code, _, err = _run(["enroll", "--db", tmp_path / "db.npz", "--name", "ann", "--threshold", "-1",
                         tmp_path / "x.jpg"], capsys)
    assert code == 2 and err.startswith("error: threshold must be a positive number")
