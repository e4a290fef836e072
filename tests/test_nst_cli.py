"""Tests of ``python -m utils.nst`` (utils.nst.cli): a real small run, --help, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from utils import assets, config, image_io
from utils.nst import cli

PARTIAL = assets.find("vgg19_partial")
FULL = assets.find("vgg19_full")
needs_partial = pytest.mark.skipif(PARTIAL is None, reason="asset vgg19_partial not found")


@pytest.fixture(scope="module")
def images():
    folder = assets.resolve("nst_images")
    return folder / "content" / "tubingen.jpg", folder / "style" / "starry_night.jpg"


def test_help_lists_the_documented_options():
    completed = subprocess.run([sys.executable, "-m", "utils.nst", "--help"], cwd=config.REPO_ROOT,
                               capture_output=True, text=True)
    assert completed.returncode == 0
    for option in ("--content", "--style", "--output", "--size", "--steps", "--preset", "--style-weights",
                   "--preserve-colors", "--tv-weight", "--optimizer", "--json"):
        assert option in completed.stdout


@needs_partial
def test_cli_round_trip_writes_image_and_json(images, tmp_path):
    content, style = images
    output, record = tmp_path / "out.png", tmp_path / "out.json"
    code = cli.main(["--content", str(content), "--style", str(style), "--output", str(output),
                     "--size", "40", "--steps", "3", "--json", str(record), "--no-progress"])
    assert code == 0
    assert image_io.load_image(output).shape == (30, 40, 3)
    data = json.loads(record.read_text())
    for key in ("content", "style", "total"):
        assert key in data["initial_losses"] and key in data["final_losses"]
    assert data["final_losses"]["total"] < data["initial_losses"]["total"]
    assert data["seconds_per_step"] > 0
    assert data["weights_file"] == str(FULL or PARTIAL)
    assert data["layers"]["content"] == "block3_conv2"
    assert data["content"] == str(content) and data["styles"] == [str(style)] and data["output"] == str(output)
    assert data["settings"]["preset"] == "blocks123" and data["optimizer"] == "lbfgs"


@needs_partial
def test_cli_options_reach_the_settings(images, tmp_path):
    content, style = images
    other = assets.resolve("nst_images") / "style" / "the_scream.jpg"
    record = tmp_path / "out.json"
    code = cli.main(["--content", str(content), "--style", str(style), str(other), "--output",
                     str(tmp_path / "out.jpg"), "--size", "24", "--steps", "2", "--style-weights", "3", "1",
                     "--preserve-colors", "--tv-weight", "0.25", "--optimizer", "adam", "--json", str(record),
                     "--no-progress"])
    assert code == 0
    data = json.loads(record.read_text())
    assert data["settings"]["style_blend"] == [0.75, 0.25]
    assert data["settings"]["preserve_colors"] is True and data["settings"]["tv_weight"] == 0.25
    assert data["optimizer"] == "adam" and data["steps"] == 2


def test_cli_bad_input_exits_2_with_one_line(images, tmp_path, capsys):
    content, style = images
    output = tmp_path / "out.png"
    assert cli.main(["--content", str(tmp_path / "nope.jpg"), "--style", str(style), "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert "nope.jpg" in error and error.startswith("error: ") and error.count("\n") == 1
    assert cli.main(["--content", str(content), "--style", str(style), "--output", str(output),
                     "--preset", "nope"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert cli.main(["--content", str(content), "--style", str(style), "--output", str(output),
                     "--size", "2"]) == 2
    assert "too small" in capsys.readouterr().err
    assert cli.main(["--content", str(content), "--style", str(style), "--output", str(tmp_path / "out.gif")]) == 2
    assert "--output must end in .png" in capsys.readouterr().err
    (tmp_path / "folder.png").mkdir()
    assert cli.main(["--content", str(content), "--style", str(style), "--output", str(tmp_path / "folder.png")]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert cli.main(["--content", str(content), "--style", str(style), "--output", str(output),
                     "--steps", "0"]) == 2
    assert "--steps must be at least 1" in capsys.readouterr().err
    assert not output.exists()
