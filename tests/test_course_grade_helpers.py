"""Shared by the grader's tests: a small synthetic assignment like notebook 06 (no model, no data).

``06_tiny`` has the two exercises of notebook 06 (``conv_output_size`` worth 1 point,
``conv_param_count`` worth 2) with the course's real checks, so a kernel needs only
``utils.checks`` (a few seconds) and every verdict goes through the real observe/judge path.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import zipfile

import nbformat
import psutil
import pytest

from utils import config
from utils.course import student
from utils.course.grading import assignment as assignments
from utils.course.grading import cli
from utils.course.grading.sandbox import Bubblewrap
from utils.errors import UsageError

SETUP = "from utils import checks\nfrom utils.convnets import arithmetic"
SIZE = "def conv_output_size(n, f, p, s):\n    ### BEGIN SOLUTION\n    return (n + 2 * p - f) // s + 1\n    ### END SOLUTION"
SIZE_CHECK = "checks.check_conv_output_size(conv_output_size)"
PARAMS = (
    "def conv_param_count(f, rank, c_in, c_out):\n    ### BEGIN SOLUTION (points=2)\n"
    "    return (f ** rank * c_in + 1) * c_out\n    ### END SOLUTION"
)
#: The hidden region holds a check call only (judged in the grader with hidden cases, issue 30.3).
PARAMS_CHECK = (
    "checks.check_conv_param_count(conv_param_count)\n### BEGIN HIDDEN CHECKS\n"
    "checks.check_conv_param_count(conv_param_count)  # one weight and one bias\n### END HIDDEN CHECKS"
)

RIGHT_SIZE = "    return (n + 2 * p - f) // s + 1"
RIGHT_PARAMS = "    return (f ** rank * c_in + 1) * c_out"


class TinyCourse:
    """A solution folder with ``06_tiny.ipynb`` and a ``make`` helper for submissions."""

    def __init__(self, root):
        self.root = root
        solution = nbformat.v4.new_notebook(
            cells=[
                nbformat.v4.new_markdown_cell("# Shape arithmetic"),
                nbformat.v4.new_code_cell(SETUP),
                nbformat.v4.new_code_cell(SIZE),
                nbformat.v4.new_code_cell(SIZE_CHECK),
                nbformat.v4.new_code_cell(PARAMS),
                nbformat.v4.new_code_cell(PARAMS_CHECK),
            ]
        )
        (root / "solutions").mkdir(parents=True, exist_ok=True)
        self.solution_path = root / "solutions" / "06_tiny.ipynb"
        nbformat.write(solution, self.solution_path)
        self.released = student.make_student_notebook(solution, "06_tiny")
        self.solutions = assignments.Solutions(root / "solutions")

    def notebook(self, size=RIGHT_SIZE, params=RIGHT_PARAMS, extra=(), after=1, edit=None):
        """The released notebook with these bodies (None keeps the stub) and ``extra`` learner cells
        inserted after cell ``after`` (the setup cell)."""
        notebook = nbformat.reads(nbformat.writes(self.released), as_version=4)
        if size is not None:
            notebook.cells[2].source = "def conv_output_size(n, f, p, s):\n" + size
        if params is not None:
            notebook.cells[4].source = "def conv_param_count(f, rank, c_in, c_out):\n" + params
        for offset, source in enumerate(extra):
            notebook.cells.insert(after + 1 + offset, nbformat.v4.new_code_cell(source))
        if edit is not None:
            edit(notebook)
        return notebook

    def make(self, name, folder="submissions", **options):
        """Write a submission (see :meth:`notebook`) and return its path."""
        path = self.root / folder / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(self.notebook(**options), path)
        return path

    def read(self, paths):
        return assignments.read_submissions([*paths], self.solutions)


def statuses(result):
    return {name: (exercise.status, exercise.points) for name, exercise in result.exercises.items()}


@functools.cache
def sandbox_problem() -> str:
    """ "" where a bubblewrap sandbox can be made here, else why (one line)."""
    try:
        Bubblewrap().check()
    except UsageError as error:
        return str(error)
    return ""


#: For tests that grade in the default sandbox: skipped, with one line, where bubblewrap cannot run
#: (CI installs it, so CI always runs them).
needs_sandbox = pytest.mark.skipif(bool(sandbox_problem()), reason=f"skipped: {sandbox_problem()}")


def survivors(marker: str) -> list[psutil.Process]:
    """Live processes on this machine (any user, any namespace) whose command line holds ``marker``."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if marker in " ".join(process.info["cmdline"] or []) and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            pass
    return found


def unpack_gradescope_bundle(course: TinyCourse, folder):
    """Build the Gradescope bundle of ``course`` with the command line and lay it out as Gradescope
    does: ``folder/autograder/{source,submission,results}``. Returns ``folder/autograder``."""
    bundle_path = folder / "autograder.zip"
    arguments = ["gradescope", str(bundle_path), "--solutions", str(course.root / "solutions"), "--timeout", "60"]
    assert cli.main(arguments) == 0
    root = folder / "autograder"
    with zipfile.ZipFile(bundle_path) as bundle:
        bundle.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    return root


def start_grader(arguments: list[str], env: dict) -> subprocess.Popen:
    """``python -m utils.grade ARGUMENTS`` in a session of its own (so a test can kill its whole
    group), with ``env`` as its environment and its output kept."""
    return subprocess.Popen(
        [sys.executable, "-m", "utils.grade", *arguments],
        cwd=config.REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
