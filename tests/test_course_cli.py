"""``python -m utils.course`` (utils.course.cli): the course commands without make, and the Makefile over it.

Nothing here installs or runs a course command: ``--dry-run`` prints the command lines, which are
compared with what the Makefile ran before it became a thin layer (the ``EXPECTED`` table).
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from utils.course import cli
from utils.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent

#: make target (with its variables) -> the commands the Makefile ran for it before issue 24, with
#: ``PY`` for the venv's Python. The python -m spelling must run exactly these.
EXPECTED = {
    ("demo",): ["PY -m utils.course.demo"],
    ("test",): ["COURSE_FAST=1 PY -m pytest"],
    ("test-lib",): ["PY -m pytest tests"],
    ("lint",): ["PY -m ruff check", "PY -m ruff format --check"],  # issue 29: new, not in the old Makefile
    ("students",): ["PY -m utils.course.student notebooks --out notebooks/student"],
    ("grade", "SUBMISSIONS=subs"): ["PY -m utils.grade subs --json grades.json --csv gradebook.csv"],
    ("mirror", "DIR=/media/usb"): ["PY -m utils.assets mirror /media/usb"],
    ("benchmarks",): [
        "PY -m benchmarks.encoder_speed",
        "PY -m benchmarks.identify_speed",
        "PY -m benchmarks.lfw_eval",
        "PY -m benchmarks.nst_speed",
    ],
    ("site",): ["PY -m utils.course site --audience both"],
    ("diagrams",): ["PY -m utils.course.diagrams"],
    ("site", "AUDIENCE=instructor"): ["PY -m utils.course site --audience instructor"],
}


def _fake_venv(folder: Path, stamped: bool = True) -> Path:
    """A venv folder with an interpreter file and (optionally) a fresh setup stamp; nothing runs it."""
    python = cli.venv_python(folder)
    python.parent.mkdir(parents=True)
    python.write_text("")
    if stamped:
        (folder / cli.STAMP_NAME).write_text("")
    return folder


def _dry_run(argv) -> list[str]:
    output = io.StringIO()
    with redirect_stdout(output):
        assert cli.main(argv) == 0
    return output.getvalue().splitlines()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", list(EXPECTED), ids=" ".join)
def test_make_and_the_python_entry_run_the_same_commands(tmp_path, target):
    venv = _fake_venv(tmp_path / "venv")
    printed = (
        subprocess.run(
            ["make", "-n", "-s", *target, f"VENV={venv}", "PYTHON=python3"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()
    )
    assert len(printed) == 1, printed  # make only calls the entry point
    argv = shlex.split(printed[0])
    assert argv[:5] == ["python3", "-m", "utils.course", "--venv", str(venv)]
    steps = _dry_run(["--dry-run", *argv[3:]])
    assert steps == [line.replace("PY", f"{venv}/bin/python") for line in EXPECTED[target]]


def test_a_stale_or_missing_setup_runs_the_install_first(tmp_path):
    venv = _fake_venv(tmp_path / "venv", stamped=False)
    steps = _dry_run(["--venv", str(venv), "--dry-run", "demo"])
    python = f"{venv}/bin/python"
    assert steps == [
        f"{python} -m pip install --quiet --upgrade pip",
        f"{python} -m pip install --quiet -r requirements.txt -r requirements-dev.txt",
        f"{python} -m pip install --quiet --no-deps --no-build-isolation -e .",
        f"{python} -m utils.course.prepare",
        f"{python} -m utils.course.demo",
    ]
    stamp = venv / cli.STAMP_NAME
    stamp.write_text("")
    old = (ROOT / "requirements.txt").stat().st_mtime - 10
    os.utime(stamp, (old, old))  # older than requirements.txt: stale, as make's rule said
    assert not cli.setup_is_current(venv)


def test_a_fresh_clone_creates_the_venv_with_the_python_that_runs_setup(tmp_path):
    venv = tmp_path / "new-venv"
    steps = _dry_run(["--venv", str(venv), "--dry-run", "setup"])
    assert steps[0] == shlex.join([sys.executable, "-m", "venv", str(venv)])
    assert steps[-1] == f"{venv}/bin/python -m utils.course.prepare"


def test_setup_on_an_impossible_python_fails_with_one_line(tmp_path):
    """A venv made by Python 3.10 (keras 3.15.1 needs 3.11): one ``error:`` line, exit 2, nothing run."""
    venv = _fake_venv(tmp_path / "venv", stamped=False)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.10.14\n")
    done = subprocess.run(
        [sys.executable, "-m", "utils.course", "--venv", str(venv), "setup"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: setup cannot work here: Python 3.10 is too old for this course: keras 3.15.1 needs "
        "Python 3.11 or newer (3.11 to 3.13 work)"
    ]


@pytest.mark.parametrize(
    "version, system, machine, expected",
    [
        ((3, 11), "Linux", "x86_64", None),
        ((3, 13), "Linux", "aarch64", None),
        ((3, 12), "Darwin", "arm64", None),
        ((3, 12), "Windows", "AMD64", None),
        ((3, 10), "Windows", "AMD64", "too old"),
        ((3, 14), "Linux", "x86_64", "too new"),
        ((3, 12), "Darwin", "x86_64", "Intel Macs"),
        ((3, 12), "Windows", "ARM64", "amd64 only"),
        ((3, 12), "Linux", "riscv64", "x86_64 and aarch64 only"),
        ((3, 12), "FreeBSD", "amd64", "no wheel for FreeBSD"),
    ],
)
def test_unsupported_reason_names_what_cannot_install(version, system, machine, expected):
    reason = cli.unsupported_reason(version, system, machine)
    assert reason is None if expected is None else expected in reason


def test_the_platform_script_uses_the_same_python_range():
    sys.path.insert(0, str(ROOT))
    try:
        from tools import check_platforms
    finally:
        sys.path.remove(str(ROOT))
    supported = [python for python in check_platforms.PYTHONS if check_platforms.python_supported(python)]
    assert supported == ["3.11", "3.12", "3.13"]
    assert [
        cli.unsupported_reason((3, int(p.split(".")[1])), "Linux", "x86_64") is None for p in check_platforms.PYTHONS
    ] == [p in supported for p in check_platforms.PYTHONS]


def test_paths_are_built_with_the_target_systems_flavour():
    """The path-building code on Windows paths: backslashes and Scripts\\python.exe, no '/' assumed."""
    venv = PureWindowsPath(".venv")
    python = r".venv\Scripts\python.exe"
    assert (
        str(cli.venv_python(PureWindowsPath(r"C:\course\.venv"), windows=True)) == r"C:\course\.venv\Scripts\python.exe"
    )
    assert [step.argv for step in cli.plan("students", venv=venv, windows=True)] == [
        (python, "-m", "utils.course.student", "notebooks", "--out", r"notebooks\student")
    ]
    assert [step.argv[0] for step in cli.install_steps(venv, windows=True, python=r"C:\Python312\python.exe")] == [
        r"C:\Python312\python.exe",
        python,
        python,
        python,
    ]
    assert (
        cli.plan("test", ["-k", "two words"], venv=venv, windows=True)[0].shell(windows=True)
        == f'set COURSE_FAST=1&& {python} -m pytest -k "two words"'
    )
    posix = cli.plan("students", venv=PurePosixPath(".venv"), windows=False)[0].argv
    assert posix[0] == ".venv/bin/python" and posix[-1] == "notebooks/student"


def test_site_runs_the_site_builder_in_process_or_says_it_is_missing(monkeypatch):
    calls = []

    class FakeSite:
        @staticmethod
        def main(argv):
            calls.append(argv)
            return 0

    monkeypatch.setattr(cli.importlib, "import_module", lambda name: FakeSite)
    assert cli.run_site(["--audience", "both"]) == 0 and calls == [["--audience", "both"]]

    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(cli.importlib, "import_module", missing)
    with pytest.raises(UsageError, match="site builder utils/course/site is not in this checkout"):
        cli.run_site([])


def test_bad_use_is_one_line_and_exit_2(capsys):
    assert cli.main(["--dry-run", "mirror"]) == 2
    assert capsys.readouterr().err == "error: mirror needs one folder: python -m utils.course mirror DIR [NAME ...]\n"
    with pytest.raises(SystemExit):
        cli.main(["nonsense"])


def test_the_entry_runs_before_anything_is_installed():
    """``python -S`` (no site-packages: a bare system Python) can load the entry and print its plan."""
    done = subprocess.run(
        [sys.executable, "-S", "-m", "utils.course", "--dry-run", "--venv", "/nonexistent-venv", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "/nonexistent-venv/bin/python -m utils.course.demo"
