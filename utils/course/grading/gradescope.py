"""A Gradescope autograder for the course: the bundle, and what runs inside Gradescope's container.

``python -m utils.grade gradescope OUT.zip`` writes the zip an instructor uploads as a
"Programming Assignment" autograder. Gradescope unpacks it into ``/autograder/source``, runs
``setup.sh`` once when it builds the image, and ``run_autograder`` for every submission, with the
learner's files in ``/autograder/submission``; the grade is ``/autograder/results/results.json``
(fields: ``score``, ``execution_time``, ``output``, ``tests`` — one per exercise with ``name``,
``score``, ``max_score``, ``status``, ``output``, ``visibility``). The zip holds:

* ``setup.sh``: installs bubblewrap (``apt-get``), makes a virtual environment in
  ``/autograder/venv``, installs ``requirements.txt`` and runs ``python -m utils.course.prepare``
  (fetches and verifies the assets);
* ``run_autograder``: makes ``solutions/`` readable by root only, then grades the submitted
  notebook with ``python -m utils.grade gradescope-run`` (the same grader, limits and checks as on
  the instructor's machine; one submission, one kernel in its own sandbox: Gradescope runs
  ``run_autograder`` as root, the kernel runs as ``nobody`` with no view of ``/autograder`` but
  the library and the virtual environment, read-only); ``results.json`` is written by the grader
  after the kernel and its sandbox are gone;
* the course library ``utils/``, ``requirements.txt``, and ``solutions/``: the solution notebooks
  **without their solutions** (:func:`grading_copy`: each ``### BEGIN SOLUTION`` region's body is
  replaced by a ``raise``; the grader needs only the exercises, the check cells and the released
  cells, which stay as they are).

The root (``/autograder``) and the Python (``/autograder/venv/bin/python``) can be moved with
``COURSE_GRADESCOPE_ROOT`` and ``COURSE_GRADESCOPE_PYTHON`` (read by ``run_autograder``, a shell
script; the tests run it against a temporary root laid out like Gradescope's).

Example:
    >>> from utils.course.grading.reports import NotebookResult
    >>> from utils.course.grading.judging import ExerciseResult
    >>> document = results_document(NotebookResult("a.ipynb", "06_x", {"f": ExerciseResult("passed", 1.0, 1.0)}), 3.2)
    >>> document["score"], document["tests"][0]["name"], document["tests"][0]["status"]
    (1.0, '06_x: f', 'passed')
"""

from __future__ import annotations

import json
import shlex
import time
import zipfile
from pathlib import Path

import nbformat

from utils import config, files
from utils.course import student
from utils.course.grading import runner
from utils.course.grading.assignment import Assignment, Solutions, read_submissions
from utils.course.grading.kernel import Limits
from utils.course.grading.reports import NotebookResult
from utils.course.grading.sandbox import make_sandbox
from utils.course.grading.text import clean_name, clean_text
from utils.errors import CourseError, NotebookFormatError, UsageError

#: Gradescope's visibility of each exercise's result: learners see it at once (their hints).
VISIBILITY = "visible"

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd /autograder/source
# Each learner's kernel runs in a bubblewrap sandbox as nobody (docs/GRADING.md).
command -v bwrap >/dev/null || { apt-get update -qq && apt-get install -y -qq bubblewrap; }
chmod -R go-rwx /autograder/source/solutions
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet --upgrade pip
/autograder/venv/bin/python -m pip install --quiet -r requirements.txt
/autograder/venv/bin/python -m utils.course.prepare
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission/*.ipynb and write
# /autograder/results/results.json. COURSE_GRADESCOPE_ROOT / COURSE_GRADESCOPE_PYTHON move the
# root and the interpreter (tests).
set -uo pipefail
ROOT="${COURSE_GRADESCOPE_ROOT:-/autograder}"
PYTHON="${COURSE_GRADESCOPE_PYTHON:-$ROOT/venv/bin/python}"
chmod -R go-rwx "$ROOT/source/solutions"       # the grader's only: the kernel runs as another user
cd "$ROOT/source"
exec "$PYTHON" -m utils.grade gradescope-run --root "$ROOT" --solutions "$ROOT/source/solutions" %(options)s
"""


def results_document(result: NotebookResult | None, seconds: float, problem: str = "") -> dict:
    """Gradescope's ``results.json`` for one graded submission (or for one that could not be graded).

    Args:
        result: the grade; None when the submission could not be graded.
        seconds: how long grading took.
        problem: why it could not be graded (shown to the learner).
    """
    if result is None:
        return {
            "score": 0.0,
            "execution_time": round(seconds, 1),
            "output": problem,
            "visibility": VISIBILITY,
            "stdout_visibility": "hidden",
            "tests": [],
        }
    tests = [
        {
            "name": clean_name(f"{result.notebook}: {name}"),
            "score": exercise.points,
            "max_score": exercise.max_points,
            "status": "passed" if exercise.status == "passed" else "failed",
            "output": clean_text(f"{exercise.status}. {exercise.message}".strip()),
            "visibility": VISIBILITY,
        }
        for name, exercise in result.exercises.items()
    ]
    return {
        "score": result.score,
        "execution_time": round(seconds, 1),
        "output": f"{result.notebook}: {result.score:g} / {result.max_score:g} points",
        "visibility": VISIBILITY,
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def run(root, solutions_folder, limits: Limits | None = None, sandbox: str = "bubblewrap", image: str = "") -> dict:
    """Grade the notebook in ``ROOT/submission`` and write ``ROOT/results/results.json``; returns it.

    The kernel runs in a sandbox (``sandbox``, see :func:`~utils.course.grading.sandbox.make_sandbox`);
    ``results.json`` is written here, after grading returned (every kernel and its sandbox ended).
    A submission that cannot be graded (no notebook, several, not a notebook, not of this course,
    no sandbox) gets a results.json with score 0 and a message saying why; the grader never exits
    without one.
    """
    root = Path(root)
    started = time.monotonic()
    result, problem = None, ""
    limits = limits or Limits()
    try:
        found = sorted(
            path for path in (root / "submission").rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts
        )
        if len(found) != 1:
            raise UsageError(f"upload exactly one .ipynb notebook (found {len(found)})")
        solutions = Solutions(solutions_folder)
        submissions = read_submissions(found, solutions)
        chosen = make_sandbox(sandbox, image, limits.memory_mib)
        result = runner.grade_all(submissions, limits, sandbox=chosen)[0]
        result.path = clean_name(found[0].name)
    except (CourseError, OSError) as error:
        problem = f"The notebook could not be graded: {clean_text(str(error), 500)}"
    document = results_document(result, time.monotonic() - started, problem)
    files.write_text(root / "results" / "results.json", json.dumps(document, indent=1) + "\n")
    return document


def grading_copy(source: str) -> str:
    """A solution cell's source with each solution region's body replaced by one ``raise`` (markers kept).

    What the grader needs of a solution notebook — the exercises and their points (the markers),
    the check cells, and each cell as learners got it — is unchanged; the solutions are not shipped.

    Example:
        >>> print(grading_copy("def f():\\n    ### BEGIN SOLUTION (points=2)\\n    return 42\\n    ### END SOLUTION"))
        def f():
            ### BEGIN SOLUTION (points=2)
            raise NotImplementedError("not shipped")
            ### END SOLUTION
    """
    kept, inside = [], False
    for line in source.split("\n"):
        marker = line.strip()
        if marker.startswith(student.BEGIN_SOLUTION):
            inside = True
            kept += [line, line[: len(line) - len(line.lstrip())] + 'raise NotImplementedError("not shipped")']
        elif marker == student.END_SOLUTION:
            inside = False
            kept.append(line)
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def _grading_notebook(path: Path) -> str:
    """The solution notebook at ``path`` without its solutions (:func:`grading_copy`), checked to grade alike.

    Raises:
        NotebookFormatError: the copy would not give the same exercises, check cells and released cells.
    """
    notebook = student.read_notebook(path)
    original = Assignment.from_notebook(notebook, path.stem, path)
    for cell in notebook.cells:
        if cell.cell_type == "code" and student.BEGIN_SOLUTION in cell.source:
            cell.source = grading_copy(cell.source)
    copy = Assignment.from_notebook(notebook, path.stem, path)
    if (copy.exercises, copy.checks, copy.released, copy.exercise_cells) != (
        original.exercises,
        original.checks,
        original.released,
        original.exercise_cells,
    ):
        raise NotebookFormatError(f"{path}: its grading copy (solutions removed) would grade differently")
    return nbformat.writes(notebook) + "\n"


def _bundle_files(solutions_folder: Path) -> list[tuple[Path | str, str]]:
    """(source file or text, name in the zip) of every file the autograder needs besides its two scripts."""
    repo = config.REPO_ROOT
    pairs: list[tuple[Path | str, str]] = [(repo / "requirements.txt", "requirements.txt")]
    for path in sorted((repo / "utils").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            pairs.append((path, str(path.relative_to(repo).as_posix())))
    notebooks = sorted(solutions_folder.glob("*.ipynb"))
    if not notebooks:
        raise UsageError(f"solution folder {solutions_folder} holds no *.ipynb notebook")
    pairs += [(_grading_notebook(path), f"solutions/{path.name}") for path in notebooks]
    return pairs


def build_bundle(out, solutions_folder, options: list[str] | None = None) -> Path:
    """Write the Gradescope autograder zip (see the module docstring); returns its path.

    Args:
        out: the zip to write (atomically).
        solutions_folder: the solution notebooks to grade against.
        options: grader options run_autograder passes on (``--timeout 300`` ...).

    Raises:
        UsageError: no solution notebook, or ``out`` is not a writable file name.
    """
    out = Path(out)
    files.check_writable(out, what="bundle")
    pairs = _bundle_files(Path(solutions_folder))
    command = " ".join(shlex.quote(option) for option in (options or []))

    def write(temporary: Path) -> None:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER % {"options": command})):
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o100755 << 16  # executable, as Gradescope runs them
                bundle.writestr(info, text)
            for source, name in pairs:
                if isinstance(source, Path):
                    bundle.write(source, name)
                else:
                    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                    info.external_attr = 0o100600 << 16  # the grader's (root's) only
                    bundle.writestr(info, source)

    return files.write_with(out, write)
