"""Tests of ``python -m utils.nst`` (utils.nst.cli): a real small run, --help, one-line errors.

The bad-input tests (issue 13, rows 4, 7, 9, 13 and 14) each reproduce a failure of the earlier
command line: an input overwritten, NaN accepted, a traceback after the run, too many L-BFGS
evaluations, an unchecked weights file. Every error path must end with exit status 2, one line
on stderr, and nothing on disk changed. Inputs are copies in ``tmp_path``, never the shared data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from conftest import FULL, PARTIAL, needs_partial
from utils import assets, config, image_io
from utils.nst import cli
from utils.nst import engine as nst_engine


@pytest.fixture
def inputs(images, tmp_path):
    """Copies of the content and style images in a folder of their own."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    return tuple(shutil.copy(path, folder / path.name) for path in images)


def disk_state(folder) -> dict:
    """Every file under ``folder`` with its sha256 (to show that nothing changed)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def no_work(monkeypatch):
    """Fail loudly if the command line gets as far as building the engine."""

    def refuse(*args, **kwargs):
        raise AssertionError("the engine was built: the bad input was not caught before any work")

    monkeypatch.setattr(cli, "StyleTransfer", refuse)


def run_cli(*words) -> int:
    """``python -m utils.nst`` with these command-line words (paths and numbers as they print)."""
    return cli.main([str(word) for word in words])


def run_transfer(content, style, output, *options) -> int:
    """``python -m utils.nst --content CONTENT --style STYLE --output OUTPUT [options]``."""
    return run_cli("--content", content, "--style", style, "--output", output, *options)


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    return captured.err


def test_help_lists_the_documented_options():
    completed = subprocess.run(
        [sys.executable, "-m", "utils.nst", "--help"], cwd=config.REPO_ROOT, capture_output=True, text=True
    )
    assert completed.returncode == 0
    for option in (
        "--content",
        "--style",
        "--output",
        "--size",
        "--steps",
        "--preset",
        "--style-weights",
        "--preserve-colors",
        "--tv-weight",
        "--optimizer",
        "--json",
        "--dtype",
        "--coarse-scale",
        "--no-coarse-to-fine",
    ):
        assert option in completed.stdout
    # issue 13 row 13: the help says what a step is for each optimiser
    help_text = " ".join(completed.stdout.split())
    assert "L-BFGS evaluations of the loss and its gradient" in help_text and "never more than" in help_text


@needs_partial
def test_cli_round_trip_writes_image_and_json(images, tmp_path, capsys):
    content, style = images
    output, record = tmp_path / "out.png", tmp_path / "out.json"
    code = run_transfer(content, style, output, "--size", "40", "--steps", "3", "--json", record, "--no-progress")
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
    # the dtype chosen, and why, are in the JSON and in the summary line
    assert data["compute_dtype"] in ("float32", "bfloat16") and data["compute_dtype_reason"].startswith("auto: ")
    assert data["settings"]["compute_dtype"] == "auto"
    summary = capsys.readouterr().out
    assert data["compute_dtype"] in summary and data["compute_dtype_reason"] in summary


@needs_partial
def test_cli_options_reach_the_settings(images, tmp_path):
    content, style = images
    other = assets.resolve("nst_images") / "style" / "the_scream.jpg"
    record = tmp_path / "out.json"
    code = run_cli(
        "--content",
        content,
        "--style",
        style,
        other,
        "--output",
        tmp_path / "out.jpg",
        "--size",
        "24",
        "--steps",
        "2",
        "--style-weights",
        "3",
        "1",
        "--preserve-colors",
        "--tv-weight",
        "0.25",
        "--optimizer",
        "adam",
        "--json",
        record,
        "--dtype",
        "float32",
        "--coarse-scale",
        "0.25",
        "--coarse-share",
        "0.5",
        "--no-progress",
    )
    assert code == 0
    data = json.loads(record.read_text())
    assert data["settings"]["style_blend"] == [0.75, 0.25]
    assert data["settings"]["preserve_colors"] is True and data["settings"]["tv_weight"] == 0.25
    assert data["optimizer"] == "adam" and data["steps"] == 2
    assert data["compute_dtype"] == "float32" and data["compute_dtype_reason"] == "float32 asked for explicitly"
    assert (data["settings"]["coarse_scale"], data["settings"]["coarse_share"]) == (0.25, 0.5)


def test_cli_options_for_coarse_to_fine(tmp_path):
    parser = cli.build_parser()
    base = ["--content", "c.jpg", "--style", "s.jpg", "--output", str(tmp_path / "o.png")]
    assert cli._settings(parser.parse_args(base)).coarse_scale == 0.5
    assert cli._settings(parser.parse_args(base + ["--no-coarse-to-fine"])).coarse_scale is None
    assert cli._settings(parser.parse_args(base + ["--coarse-scale", "1"])).coarse_scale is None
    assert cli._settings(parser.parse_args(base)).compute_dtype == "auto"


def test_cli_bad_input_exits_2_with_one_line(images, tmp_path, capsys):
    content, style = images
    output = tmp_path / "out.png"
    assert run_transfer(tmp_path / "nope.jpg", style, output) == 2
    assert "nope.jpg" in one_error_line(capsys)
    assert run_transfer(content, style, output, "--preset", "nope") == 2
    assert "unknown preset" in one_error_line(capsys)
    assert run_transfer(content, style, output, "--size", "2") == 2
    assert "too small" in one_error_line(capsys)
    assert run_transfer(content, style, tmp_path / "out.gif") == 2
    assert "--output must end in .png" in one_error_line(capsys)
    assert run_transfer(content, style, output, "--steps", "0") == 2
    assert "--steps must be at least 1" in one_error_line(capsys)
    assert not output.exists()


def test_argument_errors_are_one_line_with_exit_2(capsys):
    with pytest.raises(SystemExit) as stopped:
        run_transfer("c.jpg", "s.jpg", "o.png", "--steps", "many")
    assert stopped.value.code == 2
    assert "argument --steps: invalid int value: 'many'" in one_error_line(capsys)
    with pytest.raises(SystemExit) as stopped:
        run_cli("--style", "s.jpg", "--output", "o.png")
    assert stopped.value.code == 2 and "--content" in one_error_line(capsys)


# ---- issue 13, row 4: an output that names an input --------------------------------------------


@pytest.mark.parametrize(
    "option, victim", [("--output", 0), ("--json", 0), ("--json", 1), ("--grid", 1), ("--plot", 0)]
)
def test_an_output_naming_an_input_is_refused_and_the_input_untouched(
    inputs, tmp_path, capsys, no_work, option, victim
):
    """Before: ``--output tubingen.jpg`` (or ``--json``) overwrote the content image and exited 0."""
    content, style = inputs
    before = disk_state(tmp_path)
    arguments = ["--content", str(content), "--style", str(style), "--output", str(tmp_path / "out.png")]
    target = str(inputs[victim])
    if option == "--output":
        arguments[arguments.index("--output") + 1] = target
    else:
        arguments += [option, target]
    assert cli.main(arguments) == 2
    assert "is also an input" in one_error_line(capsys)
    assert disk_state(tmp_path) == before


def test_an_input_reached_by_another_path_is_refused_too(inputs, tmp_path, capsys, no_work, monkeypatch):
    content, style = inputs
    monkeypatch.chdir(content.parent)
    before = disk_state(tmp_path)
    assert run_transfer(content.name, style, content.parent / ".." / "inputs" / content.name) == 2
    assert "is also an input" in one_error_line(capsys)
    assert (
        run_transfer(
            content, style, tmp_path / "out.png", "--json", tmp_path / "same.json", "--plot", tmp_path / "same.json"
        )
        == 2
    )
    assert "same file" in one_error_line(capsys)
    assert disk_state(tmp_path) == before


# ---- issue 13, row 7: NaN and infinity --------------------------------------------------------


@pytest.mark.parametrize(
    "option, value",
    [
        ("--alpha", "nan"),
        ("--beta", "inf"),
        ("--tv-weight", "nan"),
        ("--learning-rate", "nan"),
        ("--learning-rate", "-inf"),
        ("--style-scale", "nan"),
        ("--coarse-scale", "nan"),
        ("--coarse-share", "inf"),
        ("--beta", "1e39"),
    ],
)
def test_non_finite_numbers_are_refused_before_any_work(inputs, tmp_path, capsys, no_work, option, value):
    """Before: ``nan < 0`` is False, so NaN passed validation and the run wrote a NaN image (exit 0)."""
    content, style = inputs
    before = disk_state(tmp_path)
    assert run_transfer(content, style, tmp_path / "out.png", "--optimizer", "adam", f"{option}={value}") == 2
    error = one_error_line(capsys)
    assert option.lstrip("-").replace("-", "_") in error.replace("-", "_") and ("finite" in error or "float32" in error)
    assert disk_state(tmp_path) == before


def test_non_finite_style_weights_are_refused_before_any_work(inputs, tmp_path, capsys, no_work):
    content, style = inputs
    before = disk_state(tmp_path)
    assert (
        run_cli(
            "--content",
            content,
            "--style",
            style,
            style,
            "--output",
            tmp_path / "out.png",
            "--style-weights",
            "1",
            "nan",
        )
        == 2
    )
    assert "--style-weights must be a finite number" in one_error_line(capsys)
    assert disk_state(tmp_path) == before


@needs_partial
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_loss_that_overflows_stops_the_run_and_writes_nothing(inputs, tmp_path, capsys, optimizer):
    """beta = 3e38 is a finite float32, but beta * J_style is not: the run must stop, not write garbage."""
    content, style = inputs
    before = disk_state(tmp_path)
    assert (
        run_transfer(
            content,
            style,
            tmp_path / "out.png",
            "--json",
            tmp_path / "out.json",
            "--size",
            "24",
            "--steps",
            "3",
            "--beta",
            "3e38",
            "--optimizer",
            optimizer,
            "--no-progress",
        )
        == 2
    )
    error = one_error_line(capsys)
    assert "style = inf" in error or "total = inf" in error, error
    assert "nothing was written" in error
    assert disk_state(tmp_path) == before


# ---- issue 13, row 9: outputs that cannot be written ------------------------------------------


def test_output_under_a_regular_file_is_refused_before_the_run(inputs, tmp_path, capsys, no_work):
    """Before: the traceback came after the whole run."""
    content, style = inputs
    (tmp_path / "plain").write_text("a file, not a folder")
    before = disk_state(tmp_path)
    assert run_transfer(content, style, tmp_path / "plain" / "out.png") == 2
    assert "is a file, not a folder" in one_error_line(capsys)
    assert run_transfer(content, style, tmp_path / "out.png", "--json", tmp_path / "plain" / "deeper" / "out.json") == 2
    assert "is a file, not a folder" in one_error_line(capsys)
    assert disk_state(tmp_path) == before


def test_output_equal_to_a_folder_is_refused_before_the_run(inputs, tmp_path, capsys, no_work):
    content, style = inputs
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "report").mkdir()
    assert run_transfer(content, style, tmp_path / "folder.png") == 2
    assert "is a folder" in one_error_line(capsys)
    assert run_transfer(content, style, tmp_path / "out.png", "--plot", tmp_path / "report") == 2
    assert "--plot" in one_error_line(capsys)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["folder.png", "inputs", "report"]


def test_output_in_a_read_only_folder_is_refused_before_the_run(inputs, tmp_path, capsys, no_work, monkeypatch):
    content, style = inputs
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root may write anywhere: make the permission check see the mode bits
        real_access = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda path, mode, **kw: False if os.path.abspath(path) == str(locked) else real_access(path, mode, **kw),
        )
    try:
        assert run_transfer(content, style, locked / "out.png") == 2
        assert "is not writable" in one_error_line(capsys)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


# ---- issue 13, row 13: --steps 1 with L-BFGS ----------------------------------------------------


@needs_partial
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_lbfgs_never_evaluates_more_than_the_steps_asked(images, tmp_path, monkeypatch, steps):
    """Before: ``--steps 1`` ran 4 evaluations (scipy checks its budget only between iterations)."""
    content, style = images
    calls = []
    original = nst_engine.StyleTransfer._value_and_gradient_at

    def counting(self, scale):
        function = original(self, scale)

        def wrapper(image):
            calls.append(tuple(image.shape))
            return function(image)

        wrapper.get_concrete_function = function.get_concrete_function
        return wrapper

    monkeypatch.setattr(nst_engine.StyleTransfer, "_value_and_gradient_at", counting)
    record = tmp_path / "out.json"
    assert (
        run_transfer(
            content, style, tmp_path / "out.png", "--size", "32", "--steps", steps, "--json", record, "--no-progress"
        )
        == 0
    )
    data = json.loads(record.read_text())
    assert data["steps"] == steps and len(data["history"]) == steps
    assert len(calls) == steps  # the starting point's evaluation is the first step, not an extra one


# ---- issue 13, row 14: --weights FILE ---------------------------------------------------------


@needs_partial
def test_weights_file_named_like_a_registered_asset_must_pass_its_checksum(inputs, tmp_path, capsys, no_work):
    """Before: a damaged copy of the registered file was loaded without its checksum."""
    content, style = inputs
    damaged = tmp_path / "weights" / assets.get("vgg19_partial").filename
    damaged.parent.mkdir()
    shutil.copy(PARTIAL, damaged)
    with h5py.File(damaged, "r+") as handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        dataset = root["block1_conv1"][next(iter(root["block1_conv1"].attrs["weight_names"])).decode()]
        dataset[0, 0, 0, 0] = dataset[0, 0, 0, 0] + 1.0
    before = disk_state(tmp_path)
    assert run_transfer(content, style, tmp_path / "out.png", "--weights", damaged) == 2
    error = one_error_line(capsys)
    assert "vgg19_partial" in error and str(damaged) in error and "sha256" in error
    assert disk_state(tmp_path) == before


def test_weights_file_with_wrong_layer_shapes_is_refused(inputs, tmp_path, capsys, no_work):
    content, style = inputs
    weights = tmp_path / "mine.h5"
    with h5py.File(weights, "w") as handle:
        handle.attrs["layer_names"] = [b"block1_conv1"]
        group = handle.create_group("block1_conv1")
        group.attrs["weight_names"] = [b"block1_conv1/kernel:0", b"block1_conv1/bias:0"]
        group.create_dataset("block1_conv1/kernel:0", data=np.zeros((3, 3, 3, 32), np.float32))
        group.create_dataset("block1_conv1/bias:0", data=np.zeros(32, np.float32))
    assert run_transfer(content, style, tmp_path / "out.png", "--weights", weights) == 2
    error = one_error_line(capsys)
    assert "mine.h5" in error and "block1_conv1 has (3, 3, 3, 32)" in error and "(3, 3, 3, 64)" in error
    assert not (tmp_path / "out.png").exists()


def test_weights_folder_is_named_as_a_folder(inputs, tmp_path, capsys, no_work):
    content, style = inputs
    assert run_transfer(content, style, tmp_path / "out.png", "--weights", tmp_path) == 2
    assert "is a folder" in one_error_line(capsys)
