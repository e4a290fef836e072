"""``python -m utils.course COMMAND``: every course command without ``make`` (Windows has none).

The ``Makefile`` is a thin layer over this module: ``make demo`` runs ``python3 -m utils.course
demo``, and so on. Commands:

=============  =====================================================================================
``setup``      create ``.venv`` with this Python, install ``requirements.txt``, ``requirements-dev.txt``
               and the project, then prepare the assets (``python -m utils.course.prepare``)
``demo``       the main job (``python -m utils.course.demo``)
``test``       every unit test and notebook in fast mode (``COURSE_FAST=1 python -m pytest``);
               extra arguments go to pytest
``test-lib``   the library tests only (``python -m pytest tests``)
``lint``       ``ruff check`` then ``ruff format --check`` (the rules are in ``pyproject.toml``); extra
               arguments go to both (e.g. files)
``students``   the student notebooks (``python -m utils.course.student notebooks --out
               notebooks/student``)
``grade``      grade submissions (``python -m utils.grade SUBMISSIONS... --json grades.json --csv
               gradebook.csv``)
``site``       build the course site (``utils.course.site.main(ARGS)``)
``diagrams``   redraw the concept diagrams into ``notebooks/images/`` (``python -m utils.course.diagrams``;
               ``--check`` compares instead)
``mirror``     copy or fetch every asset into a folder (``python -m utils.assets mirror DIR``)
``benchmarks`` the four benchmark scripts
``clean``      remove ``outputs/``, ``notebooks/student/``, ``.pytest_cache/`` and the built sites
=============  =====================================================================================

Every command except ``setup`` and ``clean`` first makes sure the setup is done: the stamp file
``.venv/.course-setup-done`` must be newer than :data:`SETUP_INPUTS` (the requirements files and
``pyproject.toml``: the same rule the Makefile had), otherwise the install steps run first. The commands then run with
the virtual environment's Python (``.venv/bin/python``, ``.venv\\Scripts\\python.exe`` on
Windows) whichever Python started this module, so ``py -m utils.course demo`` works on a fresh
Windows clone. This module therefore imports only the standard library and :mod:`utils.errors`:
it must run before anything is installed.

``setup`` refuses, with one line, a Python or a platform where the requirements cannot install
(see :func:`unsupported_reason`; the table of what resolves where comes from ``python -m
tools.check_platforms``). ``--dry-run`` prints the commands instead of running them.

Example:
    >>> from pathlib import PureWindowsPath
    >>> venv_python(PureWindowsPath("C:/course/.venv"), windows=True)
    PureWindowsPath('C:/course/.venv/Scripts/python.exe')
    >>> [" ".join(step.argv[1:]) for step in plan("mirror", ["D:/usb"])]
    ['-m utils.assets mirror D:/usb']
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path, PurePath

from utils.errors import UsageError, report

#: The checkout: ``utils/course/cli.py`` -> the folder holding ``utils/``.
ROOT = Path(__file__).resolve().parent.parent.parent

#: Oldest and newest Python (major, minor) the requirements install on: keras 3.15.1 needs 3.11,
#: TensorFlow 2.21 has no wheel for 3.14 (``python -m tools.check_platforms`` shows both).
SUPPORTED_PYTHONS = ((3, 11), (3, 13))

#: Written when the environment is installed and the assets prepared.
STAMP_NAME = ".course-setup-done"

#: Files whose change makes the setup run again.
SETUP_INPUTS = ("requirements.txt", "requirements-dev.txt", "pyproject.toml")

COMMANDS = (
    "setup",
    "demo",
    "test",
    "test-lib",
    "lint",
    "students",
    "grade",
    "site",
    "diagrams",
    "mirror",
    "benchmarks",
    "clean",
)

BENCHMARKS = ("benchmarks.encoder_speed", "benchmarks.identify_speed", "benchmarks.lfw_eval", "benchmarks.nst_speed")


@dataclasses.dataclass(frozen=True)
class Step:
    """One command line to run from the checkout, with environment variables to add."""

    argv: tuple
    env: tuple = ()

    def shell(self, windows: bool = os.name == "nt") -> str:
        """The step as one line for the platform's shell (for ``--dry-run`` and the tests)."""
        quote = subprocess.list2cmdline if windows else shlex.join
        prefix = (
            "".join(f"{key}={value} " for key, value in self.env)
            if not windows
            else "".join(f"set {key}={value}&& " for key, value in self.env)
        )
        return prefix + quote([str(part) for part in self.argv])


def venv_python(venv: PurePath, windows: bool = os.name == "nt") -> PurePath:
    """The Python inside the virtual environment ``venv``.

    Args:
        venv: the environment's folder (a :class:`~pathlib.PurePath` of the target system).
        windows: whether that system is Windows (``Scripts\\python.exe`` instead of ``bin/python``).

    Returns:
        The interpreter's path, of the same path flavour as ``venv``.

    Example:
        >>> from pathlib import PurePosixPath
        >>> venv_python(PurePosixPath(".venv"), windows=False)
        PurePosixPath('.venv/bin/python')
    """
    return venv / "Scripts" / "python.exe" if windows else venv / "bin" / "python"


def unsupported_reason(
    version: Sequence[int] = sys.version_info, system: str = platform.system(), machine: str = platform.machine()
) -> str | None:
    """Why the requirements cannot install on this Python and platform, or None when they can.

    Args:
        version: the Python version (``sys.version_info`` or a tuple).
        system: ``platform.system()``: ``"Linux"``, ``"Darwin"`` or ``"Windows"``.
        machine: ``platform.machine()``, e.g. ``"x86_64"``, ``"arm64"``, ``"AMD64"``.

    Returns:
        One sentence, or None.

    Example:
        >>> unsupported_reason((3, 12), "Darwin", "arm64") is None
        True
        >>> unsupported_reason((3, 10), "Linux", "x86_64")
        'Python 3.10 is too old for this course: keras 3.15.1 needs Python 3.11 or newer (3.11 to 3.13 work)'
    """
    (low, high), minor = SUPPORTED_PYTHONS, tuple(version[:2])
    span = f"{low[0]}.{low[1]} to {high[0]}.{high[1]}"
    if minor < low:
        return (
            f"Python {minor[0]}.{minor[1]} is too old for this course: keras 3.15.1 needs "
            f"Python {low[0]}.{low[1]} or newer ({span} work)"
        )
    if minor > high:
        return (
            f"Python {minor[0]}.{minor[1]} is too new for this course: TensorFlow 2.21 publishes "
            f"wheels up to Python {high[0]}.{high[1]} ({span} work)"
        )
    machine = machine.lower()
    if system == "Darwin" and machine != "arm64":
        return (
            "TensorFlow 2.21 publishes no wheel for Intel Macs (macOS x86_64; also a Python "
            "running under Rosetta): use a native arm64 Python on Apple silicon, Linux or Windows"
        )
    if system == "Windows" and machine not in ("amd64", "x86_64"):
        return f"TensorFlow 2.21 publishes Windows wheels for amd64 only, not {machine}"
    if system == "Linux" and machine not in ("x86_64", "amd64", "aarch64", "arm64"):
        return f"TensorFlow 2.21 publishes Linux wheels for x86_64 and aarch64 only, not {machine}"
    if system not in ("Linux", "Darwin", "Windows"):
        return f"TensorFlow 2.21 publishes no wheel for {system}"
    return None


def setup_is_current(venv: Path, root: Path = ROOT) -> bool:
    """True when the stamp exists and is newer than :data:`SETUP_INPUTS` (the Makefile's rule)."""
    stamp = venv / STAMP_NAME
    if not stamp.is_file() or not venv_python(venv).exists():
        return False
    built = stamp.stat().st_mtime
    return all(not (root / name).exists() or (root / name).stat().st_mtime <= built for name in SETUP_INPUTS)


def install_steps(
    venv: PurePath, windows: bool = os.name == "nt", create: bool = True, python: str = sys.executable
) -> list[Step]:
    """Create ``venv`` (when ``create``) with ``python``, then install the requirements and the project."""
    pip = (str(venv_python(venv, windows)), "-m", "pip", "install", "--quiet")
    steps = [Step((python, "-m", "venv", str(venv)))] if create else []
    return steps + [
        Step(pip + ("--upgrade", "pip")),
        Step(pip + ("-r", "requirements.txt", "-r", "requirements-dev.txt")),
        Step(pip + ("--no-deps", "--no-build-isolation", "-e", ".")),
    ]


def plan(
    command: str, args: Sequence[str] = (), venv: PurePath = Path(".venv"), windows: bool = os.name == "nt"
) -> list[Step]:
    """The command lines ``command`` runs (after the setup check), with the venv's Python.

    Paths are built with ``venv``'s own path flavour, so a
    :class:`~pathlib.PureWindowsPath` gives the Windows spelling on any machine.

    Args:
        command: one of :data:`COMMANDS` except ``clean``.
        args: the arguments after the command (pytest's for ``test``, folders for ``grade``...).
        venv: the virtual environment's folder, relative to the checkout or absolute.
        windows: whether the target system is Windows.

    Returns:
        The steps, in order.

    Raises:
        UsageError: an unknown command, or ``mirror`` without a folder.
    """
    python = str(venv_python(venv, windows))
    args = list(args)
    if command == "setup":
        return [Step((python, "-m", "utils.course.prepare", *args))]
    if command == "demo":
        return [Step((python, "-m", "utils.course.demo", *args))]
    if command == "test":
        return [Step((python, "-m", "pytest", *args), (("COURSE_FAST", "1"),))]
    if command == "test-lib":
        return [Step((python, "-m", "pytest", "tests", *args))]
    if command == "lint":
        return [Step((python, "-m", "ruff", "check", *args)), Step((python, "-m", "ruff", "format", "--check", *args))]
    if command == "students":
        notebooks = type(venv)("notebooks")
        return [
            Step((python, "-m", "utils.course.student", str(notebooks), "--out", str(notebooks / "student"), *args))
        ]
    if command == "grade":
        outputs = [] if {"--json", "--csv"} & set(args) else ["--json", "grades.json", "--csv", "gradebook.csv"]
        return [Step((python, "-m", "utils.grade", *args, *outputs))]
    if command == "site":
        return [Step((python, "-m", "utils.course", "site", *args))]
    if command == "diagrams":
        return [Step((python, "-m", "utils.course.diagrams", *args))]
    if command == "mirror":
        if not args:
            raise UsageError("mirror needs one folder: python -m utils.course mirror DIR [NAME ...]")
        return [Step((python, "-m", "utils.assets", "mirror", *args))]
    if command == "benchmarks":
        return [Step((python, "-m", module, *args)) for module in BENCHMARKS]
    raise UsageError(f"unknown command {command!r}; choose one of {', '.join(COMMANDS)}")


def _running_in(venv: Path) -> bool:
    try:
        return Path(sys.prefix).resolve() == venv.resolve()
    except OSError:
        return False


def _run(steps: Sequence[Step], dry_run: bool, root: Path) -> int:
    for step in steps:
        print(("" if dry_run else "+ ") + step.shell(), flush=True)
        if dry_run:
            continue
        program = Path(step.argv[0])  # a venv-relative interpreter is relative to the checkout
        argv = [str(program if program.is_absolute() else root / program), *map(str, step.argv[1:])]
        done = subprocess.run(argv, cwd=root, env={**os.environ, **dict(step.env)})
        if done.returncode != 0:
            return done.returncode
    return 0


def _venv_version(venv: Path) -> tuple | None:
    """The Python version recorded in ``venv/pyvenv.cfg`` (None when unreadable)."""
    try:
        for line in (venv / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version", "version_info"):
                return tuple(int(part) for part in value.strip().split(".")[:2])
    except (OSError, ValueError):
        pass
    return None


def setup(venv: Path, dry_run: bool = False, prepare_args: Sequence[str] = (), root: Path = ROOT) -> int:
    """Install (when the stamp is stale) and prepare the assets; the ``setup`` command.

    Args:
        venv: the virtual environment, relative to ``root`` (as the commands print it) or absolute.
        dry_run: print the commands, run nothing.
        prepare_args: passed to ``python -m utils.course.prepare`` (e.g. ``--force``).
        root: the checkout.

    Returns:
        0, or the exit status of the first command that failed.

    Raises:
        UsageError: this Python or platform cannot install the requirements (one line says why).
    """
    where = root / venv
    exists = venv_python(where).exists()
    version = _venv_version(where) if exists else tuple(sys.version_info[:2])
    reason = unsupported_reason(version or sys.version_info)
    if reason:
        raise UsageError(f"setup cannot work here: {reason}")
    steps = []
    if not setup_is_current(where, root):
        steps += install_steps(venv, create=not exists)
    steps += plan("setup", prepare_args, venv)
    status = _run(steps, dry_run, root)
    if status == 0 and not dry_run:
        (where / STAMP_NAME).touch()
    return status


def clean(root: Path = ROOT, dry_run: bool = False) -> int:
    """Remove what the commands write (``outputs/``, ``notebooks/student/``, ``.pytest_cache/``, the sites)."""
    for relative in (
        Path("outputs"),
        Path("notebooks") / "student",
        Path(".pytest_cache"),
        Path("site"),
        Path("site-instructor"),
    ):
        print(("would remove " if dry_run else "removing ") + str(relative))
        if not dry_run:
            shutil.rmtree(root / relative, ignore_errors=True)
    return 0


def run_site(args: Sequence[str]) -> int:
    """Build the course site in this process: ``utils.course.site.main(args)``.

    Raises:
        UsageError: the site builder is not there (``utils/course/site`` missing).
    """
    try:
        # imported by name, lazily: the site builder needs the venv's packages (nbconvert...),
        # while this module must run before they are installed
        site = importlib.import_module("utils.course.site")
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("utils.course.site"):
            raise UsageError("the site builder utils/course/site is not in this checkout") from error
        raise
    return int(site.main(list(args)) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils.course",
        description="The course's commands (what the Makefile targets do), on any system.",
    )
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(".venv"),
        help="the virtual environment, relative to the checkout (default .venv)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        help="passed on: prepare's for setup (--force), pytest's for test, ruff's for lint, folders for "
        "grade and mirror, the site builder's for site (--audience ...)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one course command; returns the exit status (2 with one ``error:`` line for bad use)."""
    options = build_parser().parse_args(argv)
    venv = options.venv  # as given (relative to the checkout), so printed commands stay short
    try:
        if options.command == "clean":
            return clean(dry_run=options.dry_run)
        if options.command == "setup":
            return setup(venv, dry_run=options.dry_run, prepare_args=options.args)
        if options.command == "site" and _running_in(ROOT / venv):
            return run_site(options.args)
        steps = plan(options.command, options.args, venv)
        if not setup_is_current(ROOT / venv):
            status = setup(venv, dry_run=options.dry_run)
            if status:
                return status
        return _run(steps, options.dry_run, ROOT)
    except UsageError as error:
        return report(error)
