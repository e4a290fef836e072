"""Grade submitted student notebooks with the course's own checks, hidden checks included.

``python -m utils.grade SUBMISSION.ipynb [MORE.ipynb | FOLDER ...] [--json OUT] [--csv GRADEBOOK]``

For each submission the grader

1. finds its solution notebook by the id that :mod:`utils.course.student` wrote into the
   notebook's metadata (``course.notebook``), never by file name (a notebook without that id is
   matched by its cells' ids, so a solution notebook grades as itself);
2. builds the notebook to run: the learner's cells, in the learner's order, except that every
   *check cell* — a code cell that calls ``checks.check_*`` or holds a ``### BEGIN HIDDEN CHECKS``
   region — is replaced by the solution notebook's version of it, hidden checks included (a check
   cell the learner deleted is put back after the cell it followed);
3. runs it in a fresh Jupyter kernel — a subprocess with resource limits, a scratch working folder
   and a scrubbed environment (see docs/GRADING.md for what that does and does not contain) —
   with a time limit per cell and one for the whole notebook. The submission file is only read;
4. gives each exercise one status, from the exception its check cells raised (in the kernel, by
   class, never by reading printed text):

   ================  =====================================================================
   ``passed``         every check cell of the exercise ran without an exception
   ``failed``         a check raised :class:`~utils.errors.CheckFailed` (or an
                      ``AssertionError``): the message is the check's, hint included
   ``not attempted``  a check raised :class:`~utils.errors.ExerciseNotImplemented` or the
                      stub's ``NotImplementedError``
   ``error``          anything else: the learner's code raised, a cell ran out of time, the
                      kernel ran out of memory or died
   ================  =====================================================================

   The first check cell of an exercise that does not pass decides; a passed exercise earns its
   points (declared in the solution notebook, see :func:`utils.course.student.find_exercises`),
   any other status earns 0.

A cell that runs out of time is interrupted (SIGINT) and grading goes on with the next cell; a
kernel that ignores the interrupt, or dies (memory, CPU time, a crash), is replaced by a new one
that re-runs the cells that had completed, without the culprit, and grading goes on after it.

Output: a table on stdout, the JSON below (``--json``), and a CSV gradebook (``--csv``: one row per
submission, one column of points per exercise). Exit status 0 when grading completed whatever
the scores, 2 with one line on stderr for unusable input (not a notebook, no matching solution
notebook, an output file that is also an input)::

    {"notebooks": [{"path": "alice.ipynb", "notebook": "06_conv1d_conv3d_keras_workflow",
                    "score": 1.0, "max_score": 2.0, "seconds": 41.2, "peak_memory_mib": 942.0,
                    "peak_data_mib": 1210.5,
                    "exercises": {"conv_output_size": {"status": "passed", "points": 1.0,
                                                       "max_points": 1.0, "message": ""}, ...}}]}

Example:
    >>> result = NotebookResult("alice.ipynb", "06_x", {
    ...     "conv_output_size": ExerciseResult("passed", 1.0, 1.0),
    ...     "conv_param_count": ExerciseResult("not attempted", 0.0, 1.0, "Exercise `conv_param_count` "
    ...                                        "is not implemented yet")})
    >>> print(format_table([result]))
    alice.ipynb  (06_x)  1 / 2 points
      conv_output_size  passed         1 / 1
      conv_param_count  not attempted  0 / 1  Exercise `conv_param_count` is not implemented yet
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import dataclasses
import io
import json
import logging
import math
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from utils import config, files
from utils.course import student
from utils.errors import CourseError, NotebookFormatError, UsageError, report

#: The four statuses of an exercise, best first.
STATUSES = ("passed", "failed", "not attempted", "error")

#: Where the grader looks for solution notebooks unless told otherwise.
DEFAULT_SOLUTIONS = config.REPO_ROOT / "notebooks"

#: MIME type of the verdict a check cell publishes from the kernel.
VERDICT_MIME = "application/vnd.course-grade.verdict+json"

#: Longest message kept from the kernel (characters); the rest is cut.
MESSAGE_LIMIT = 4000

#: How long a kernel may take to answer after an interrupt before it is replaced (seconds).
INTERRUPT_GRACE = 10

#: Kernels replaced at most this often per submission; after that grading of it stops.
MAX_RESTARTS = 3

#: Environment variables the kernel inherits; everything else (tokens, keys, passwords) stays out.
PASSED_ENV = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "TZ", "TERM",
              "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
              "TF_NUM_INTEROP_THREADS", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND",
              "COURSE_SHARED", "COURSE_ASSETS", "COURSE_ASSETS_CACHE", "COURSE_TF_LOG", "VIRTUAL_ENV")

_KERNEL_NAME = "course-grader"
_CHECK_CALL = re.compile(r"\bchecks\s*\.\s*check_\w+\s*\(")
_QUIET = logging.getLogger("utils.course.grade.jupyter")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False

#: Runs before any learner code to set the resource limits, then becomes the kernel (``exec``).
#: Started with ``python -I`` so nothing in the scratch folder can shadow the modules it imports.
_LAUNCHER = """\
import os, resource, sys
data, cpu, size = (int(value) for value in sys.argv[1:4])
def cap(kind, soft, hard=None):
    current = resource.getrlimit(kind)[1]
    ceiling = soft if current == resource.RLIM_INFINITY else min(soft, current)
    hard = ceiling if hard is None else hard
    resource.setrlimit(kind, (ceiling, hard if current == resource.RLIM_INFINITY else min(hard, current)))
cap(resource.RLIMIT_DATA, data)
cap(resource.RLIMIT_CPU, cpu, cpu + 5)
cap(resource.RLIMIT_FSIZE, size)
cap(resource.RLIMIT_CORE, 0)
os.execv(sys.argv[4], sys.argv[4:])
"""

#: The first cell of every graded notebook: the function that runs a check cell and publishes its
#: verdict (by exception class). Outputs go to the scratch folder through $COURSE_OUTPUTS.
_KERNEL_SETUP = """\
def _course_grader_check(exercise, source, _mime={mime!r}, _limit={limit}, _stub={stub!r}):
    import traceback
    from IPython import get_ipython
    from IPython.display import publish_display_data
    from utils.errors import CheckFailed, ExerciseCrashed, ExerciseNotImplemented
    shell = get_ipython()
    try:
        exec(compile(shell.transform_cell(source), "<checks of " + exercise + ">", "exec"), shell.user_ns)
        status, message = "passed", ""
    except Exception as error:
        text = str(error)
        if isinstance(error, ExerciseNotImplemented) or (isinstance(error, NotImplementedError) and _stub in text):
            status, message = "not attempted", text
        elif isinstance(error, ExerciseCrashed):
            status, message = "error", text
        elif isinstance(error, (CheckFailed, AssertionError)):
            status, message = "failed", text or type(error).__name__
        else:
            frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                      if "ipykernel_" in frame.filename and frame.name != "_course_grader_check"]
            where = " (line {{}} of your cell: `{{}}`)".format(frames[-1].lineno, frames[-1].line) if frames else ""
            status, message = "error", type(error).__name__ + (": " + text if text else "") + where
    publish_display_data({{_mime: {{"exercise": exercise, "status": status, "message": message[:_limit]}}}})

"""


@dataclasses.dataclass
class Limits:
    """What one submission may use.

    Attributes:
        cell_seconds: wall-clock time per cell (``--timeout``); the cell is interrupted after it.
        notebook_seconds: wall-clock time for the whole submission, kernel start and restarts
            included (``--notebook-timeout``); cells after it are not run.
        memory_mib: memory of the kernel (``--memory``): each process's private data
            (``RLIMIT_DATA``: an allocation past it raises ``MemoryError``) and, checked twice a
            second, the resident memory of the kernel's whole process group (killed past it).
        cpu_seconds: CPU time of each kernel process (``RLIMIT_CPU``); None: the notebook limit
            times the usable cores, a backstop that never stops a run that keeps within its
            wall-clock limits.
        file_mib: largest file the kernel may write (``RLIMIT_FSIZE``).
        fast: run the notebooks in fast mode (``COURSE_FAST=1``); the checks are the same.
    """

    cell_seconds: float = 300.0
    notebook_seconds: float = 1800.0
    memory_mib: int = 4096
    cpu_seconds: int | None = None
    file_mib: int = 2048
    fast: bool = True

    def cpu_limit(self) -> int:
        """The CPU-time limit in seconds."""
        if self.cpu_seconds is not None:
            return int(self.cpu_seconds)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return int(math.ceil(self.notebook_seconds * cores)) + 60


@dataclasses.dataclass
class ExerciseResult:
    """The grade of one exercise (``status`` is one of :data:`STATUSES`)."""

    status: str
    points: float
    max_points: float
    message: str = ""


@dataclasses.dataclass
class NotebookResult:
    """The grade of one submission; ``exercises`` in notebook order.

    ``peak_memory_mib``: the most resident memory the kernel's process group used at once;
    ``peak_data_mib``: the most private data of the kernel process (what ``--memory`` limits per
    process; it includes 8 MiB reserved for each thread's stack). Both sampled twice a second.
    """

    path: str
    notebook: str
    exercises: dict[str, ExerciseResult]
    seconds: float = 0.0
    peak_memory_mib: float = 0.0
    peak_data_mib: float = 0.0

    @property
    def score(self) -> float:
        return float(sum(result.points for result in self.exercises.values()))

    @property
    def max_score(self) -> float:
        return float(sum(result.max_points for result in self.exercises.values()))

    def to_dict(self) -> dict:
        """The JSON form of the contract (see the module docstring)."""
        return {"path": self.path, "notebook": self.notebook, "score": self.score, "max_score": self.max_score,
                "seconds": round(self.seconds, 1), "peak_memory_mib": round(self.peak_memory_mib, 1),
                "peak_data_mib": round(self.peak_data_mib, 1),
                "exercises": {name: dataclasses.asdict(result) for name, result in self.exercises.items()}}


# --------------------------------------------------------------------------------------------
# Solution notebooks: exercises, check cells, matching submissions
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CheckCell:
    """A check cell of a solution notebook: its key, position, exercise and both versions of its source."""

    key: str
    index: int
    exercise: str
    source: str
    student_source: str


@dataclasses.dataclass
class Assignment:
    """A solution notebook read for grading."""

    notebook_id: str
    path: Path
    exercises: list[student.Exercise]
    checks: list[CheckCell]
    order: dict[str, int]          # cell key -> index in the solution notebook
    exercise_cells: dict[str, str]  # cell key -> exercise defined in that cell

    @classmethod
    def from_notebook(cls, notebook, notebook_id: str, path: Path) -> "Assignment":
        """Read the exercises and check cells of a solution notebook.

        Raises:
            NotebookFormatError: broken markers, a cell with both a solution region and checks, a
                check cell before any exercise, or an exercise without a check cell.
        """
        try:
            exercises = student.find_exercises(notebook)
        except NotebookFormatError as error:
            raise NotebookFormatError(f"{path}: {error}") from None
        order, exercise_cells, checks = {}, {}, []
        defined: list[str] = []
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            key = student.cell_key(cell, index)
            order[key] = index
            names = [exercise.name for exercise in exercises if exercise.cell == index]
            is_check = bool(_CHECK_CALL.search(cell.source)) or student.BEGIN_HIDDEN in cell.source
            if student.BEGIN_SOLUTION in cell.source:
                if is_check:
                    raise NotebookFormatError(f"{path}: cell {index} holds a solution region and checks; "
                                              f"put the checks in a cell of their own")
                exercise_cells[key] = names[-1] if names else _exercise_in(cell.source, exercises)
                defined.extend(name for name in names if name not in defined)
                continue
            if not is_check:
                continue
            if not defined:
                raise NotebookFormatError(f"{path}: cell {index} holds checks but comes before every exercise")
            mentioned = [name for name in defined if re.search(rf"\b{re.escape(name)}\b", cell.source)]
            exercise = (mentioned or defined)[-1]
            checks.append(CheckCell(key, index, exercise, cell.source, student.stub_source(cell.source)))
        unchecked = [exercise.name for exercise in exercises if not any(c.exercise == exercise.name for c in checks)]
        if unchecked:
            raise NotebookFormatError(f"{path}: exercise `{unchecked[0]}` has no check cell (a cell calling "
                                      f"checks.check_... or holding hidden checks after it)")
        return cls(notebook_id, path, exercises, checks, order, exercise_cells)


def _exercise_in(source: str, exercises: list[student.Exercise]) -> str | None:
    """Exercise name of a cell that continues an exercise begun in an earlier cell."""
    for exercise in exercises:
        if re.search(rf"\bdef\s+{re.escape(exercise.name)}\b", source):
            return exercise.name
    return None


class Solutions:
    """The solution notebooks of a folder, by id (the file's stem), read when first needed."""

    def __init__(self, folder=DEFAULT_SOLUTIONS):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise UsageError(f"solution folder {self.folder} is not a folder")
        self.paths = {path.stem: path for path in sorted(self.folder.glob("*.ipynb")) if path.is_file()}
        if not self.paths:
            raise UsageError(f"solution folder {self.folder} holds no *.ipynb notebook")
        self._notebooks: dict[str, object] = {}
        self._assignments: dict[str, Assignment] = {}

    def notebook(self, notebook_id: str):
        if notebook_id not in self._notebooks:
            self._notebooks[notebook_id] = student.read_notebook(self.paths[notebook_id])
        return self._notebooks[notebook_id]

    def assignment(self, notebook_id: str) -> Assignment:
        if notebook_id not in self._assignments:
            self._assignments[notebook_id] = Assignment.from_notebook(
                self.notebook(notebook_id), notebook_id, self.paths[notebook_id])
        return self._assignments[notebook_id]

    def match(self, submission, path) -> Assignment:
        """The assignment a submission belongs to (see the module docstring).

        Raises:
            UsageError: no solution notebook matches.
        """
        course = submission.metadata.get("course")
        notebook_id = course.get("notebook") if isinstance(course, dict) else None
        if isinstance(notebook_id, str) and notebook_id in self.paths:
            return self.assignment(notebook_id)
        if notebook_id:
            raise UsageError(f"{path}: no solution notebook {notebook_id!r} in {self.folder}")
        keys = {key for key in (_submission_key(cell) for cell in submission.cells) if key}
        best, best_share = None, 0.0
        for candidate in self.paths:
            solution_keys = [student.cell_key(cell, index) for index, cell in enumerate(self.notebook(candidate).cells)
                             if cell.cell_type == "code"]
            share = sum(key in keys for key in solution_keys) / max(len(solution_keys), 1)
            if share > best_share:
                best, best_share = candidate, share
        if best is None or best_share < 0.5:
            raise UsageError(f"{path}: no matching solution notebook in {self.folder} (the notebook carries no "
                             f"course id: was it made by `python -m utils.course.student`?)")
        return self.assignment(best)


def _submission_key(cell) -> str | None:
    course = cell.get("metadata", {}).get("course")
    key = course.get("cell") if isinstance(course, dict) else None
    return key if isinstance(key, str) else cell.get("id")


# --------------------------------------------------------------------------------------------
# The notebook to run
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class PlannedCell:
    """One cell of the notebook the grader runs.

    ``kind`` is ``"setup"`` (the grader's), ``"learner"`` (the submission's, as written) or
    ``"check"`` (the solution's check cell, hidden checks included). ``exercise``: the exercise a
    check cell checks, or the one a learner cell defines. ``position``: index in the submission
    (None for cells the grader adds).
    """

    kind: str
    source: str
    exercise: str | None = None
    position: int | None = None


def plan_cells(submission, assignment: Assignment, scratch: Path | str = ".") -> list[PlannedCell]:
    """The cells to run for ``submission``: the learner's, with the solution's check cells.

    A submission cell is the check cell whose key (``course.cell`` metadata, else the cell id)
    it carries, or whose source is that check's student version; each check runs once. A check cell
    missing from the submission is put back right after the last of the submission's cells that
    came before it in the solution notebook (at the end if there is none).

    Example:
        >>> import nbformat
        >>> solution = nbformat.v4.new_notebook(cells=[
        ...     nbformat.v4.new_code_cell("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION"),
        ...     nbformat.v4.new_code_cell("checks.check_f(f)\\n### BEGIN HIDDEN CHECKS\\nassert f() == 1\\n"
        ...                               "### END HIDDEN CHECKS")])
        >>> assignment = Assignment.from_notebook(solution, "01_f", "01_f.ipynb")
        >>> learner = student.make_student_notebook(solution, "01_f")
        >>> learner.cells[1].source = "print('I changed the check')"
        >>> [(cell.kind, cell.exercise) for cell in plan_cells(learner, assignment)]
        [('setup', None), ('learner', 'f'), ('check', 'f')]
        >>> print(plan_cells(learner, assignment)[2].source)
        _course_grader_check('f', 'checks.check_f(f)\\n### BEGIN HIDDEN CHECKS\\nassert f() == 1\\n### END HIDDEN CHECKS')
    """
    checks = {check.key: check for check in assignment.checks}
    by_student_source = {check.student_source.strip(): check.key for check in assignment.checks}
    planned: list[tuple[PlannedCell, int]] = [
        (PlannedCell("setup", _KERNEL_SETUP.format(mime=VERDICT_MIME, limit=MESSAGE_LIMIT,
                                                   stub=student.STUB_TEXT)), -1)]
    used: set[str] = set()
    for position, cell in enumerate(submission.cells):
        if cell.get("cell_type") != "code" or not isinstance(cell.get("source"), str):
            continue
        key = _submission_key(cell)
        if key not in assignment.order:
            key = by_student_source.get(cell.source.strip(), key)
        if key in checks and key not in used:
            used.add(key)
            check = checks[key]
            planned.append((PlannedCell("check", _check_source(check), check.exercise, position), check.index))
            continue
        planned.append((PlannedCell("learner", cell.source, assignment.exercise_cells.get(key), position),
                        assignment.order.get(key)))      # None: a cell the learner added
    for check in assignment.checks:
        if check.key in used:
            continue
        before = [number for number, (_, order) in enumerate(planned) if order is not None and order < check.index]
        at = (before[-1] + 1) if len(before) > 1 else len(planned)
        planned.insert(at, (PlannedCell("check", _check_source(check), check.exercise), check.index))
    return [cell for cell, _ in planned]


def _check_source(check: CheckCell) -> str:
    return f"_course_grader_check({check.exercise!r}, {check.source!r})"


# --------------------------------------------------------------------------------------------
# The kernel: a subprocess with limits, in a scratch folder, with a scrubbed environment
# --------------------------------------------------------------------------------------------

def kernel_environment(scratch: Path, limits: Limits, environ=None) -> dict[str, str]:
    """The kernel's environment: :data:`PASSED_ENV` from ``environ`` and the grader's own settings.

    Example:
        >>> env = kernel_environment(Path("/tmp/x"), Limits(), {"PATH": "/bin", "GITHUB_TOKEN": "s3cret"})
        >>> sorted(env)  # doctest: +NORMALIZE_WHITESPACE
        ['COURSE_FAST', 'COURSE_OUTPUTS', 'HOME', 'KERAS_HOME', 'MPLBACKEND', 'PATH', 'PYTHONDONTWRITEBYTECODE',
         'PYTHONPATH', 'TMPDIR']
    """
    environ = os.environ if environ is None else environ
    env = {name: environ[name] for name in PASSED_ENV if name in environ}
    keras_home = environ.get("KERAS_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".keras")
    env.update({
        "HOME": str(scratch / "home"),
        "TMPDIR": str(scratch / "tmp"),
        "PYTHONPATH": str(config.REPO_ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "KERAS_HOME": keras_home,
        config.FAST_ENV_VAR: "1" if limits.fast else "0",
        config.OUTPUTS_ENV_VAR: str(scratch / "outputs"),
    })
    return env


def _write_kernel_spec(folder: Path, limits: Limits) -> None:
    argv = [sys.executable, "-I", "-c", _LAUNCHER, str(limits.memory_mib * 2 ** 20), str(limits.cpu_limit()),
            str(limits.file_mib * 2 ** 20), sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "Python 3 (course grader)", "language": "python",
            "interrupt_mode": "signal"}
    files.write_text(folder / _KERNEL_NAME / "kernel.json", json.dumps(spec, indent=1))


class _Client(NotebookClient):
    """nbclient's executor, keeping only what grading reads: errors and verdicts (bounded in size).

    A learner's cell can print gigabytes; nothing of it is stored in the grader's process.
    """

    def output(self, outs, msg, display_id, cell_index):
        msg_type = msg["msg_type"]
        content = msg["content"]
        if msg_type == "error":
            outs.append(nbformat.v4.new_output("error", ename=str(content.get("ename", ""))[:200],
                                               evalue=str(content.get("evalue", ""))[:MESSAGE_LIMIT],
                                               traceback=[]))
        elif msg_type == "display_data" and isinstance(content.get("data", {}).get(VERDICT_MIME), dict):
            outs.append(nbformat.v4.new_output("display_data", data={VERDICT_MIME: content["data"][VERDICT_MIME]}))
        return None


@dataclasses.dataclass
class _Outcome:
    kind: str                     # "ok", "error", "timeout", "died"
    error: str = ""               # "Name: value" of an error
    verdict: dict | None = None   # what a check cell published
    responsive: bool = True       # after a timeout: did the kernel answer the interrupt?
    reason: str = ""              # after a death: why


def _private_data(pid: int) -> int:
    """``VmData`` of one process in bytes (what ``RLIMIT_DATA`` counts; 0 when unknown)."""
    with contextlib.suppress(OSError, ValueError):
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    return 0


def _process_group_memory(pgid: int) -> int:
    """Resident bytes of every process in process group ``pgid`` (Linux ``/proc``; 0 elsewhere)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if len(fields) > 22 and int(fields[2]) == pgid:     # fields[2]: pgrp; fields[21]: rss pages
                total += int(fields[21]) * page
    return total


class _Kernel:
    """One submission's kernel: start, run a cell with a time limit, watch memory, replace."""

    def __init__(self, scratch: Path, limits: Limits, spec_folder: Path):
        self.scratch, self.limits, self.spec_folder = scratch, limits, spec_folder
        self.manager: AsyncKernelManager | None = None
        self.client: _Client | None = None
        self.watchdog: asyncio.Task | None = None
        self.pgid: int | None = None
        self.killed_for_memory = False
        self.peak_bytes = 0
        self.peak_data_bytes = 0
        self.log = None

    async def start(self) -> None:
        specs = KernelSpecManager(kernel_dirs=[str(self.spec_folder)], ensure_native_kernel=False)
        self.manager = AsyncKernelManager(kernel_name=_KERNEL_NAME, kernel_spec_manager=specs, log=_QUIET)
        env = kernel_environment(self.scratch, self.limits)
        # The kernel's own stderr (start-up failures, C-level crashes) goes to a log in the scratch
        # folder, never to the grader's terminal; what learner code prints reaches us over zmq.
        self.log = open(self.scratch / "kernel.log", "ab")
        await self.manager.start_kernel(cwd=str(self.scratch / "work"), env=env, stdout=subprocess.DEVNULL,
                                        stderr=self.log)
        provisioner = self.manager.provisioner
        self.pgid = getattr(provisioner, "pgid", None) or getattr(provisioner, "pid", None)
        self.killed_for_memory = False
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
        self.client = _Client(notebook, km=self.manager, allow_errors=True, interrupt_on_timeout=False,
                              startup_timeout=120, iopub_timeout=10, log=_QUIET, record_timing=False)
        self.watchdog = asyncio.ensure_future(self._watch())
        try:
            await self.client.async_start_new_kernel_client()
        except (RuntimeError, OSError) as error:
            raise CourseError(f"the grading kernel did not start: {error}{self._log_tail()}") from None

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = (self.scratch / "kernel.log").read_text(errors="replace").strip().splitlines()
            if lines:
                return f" (kernel log: {lines[-1][:300]})"
        return ""

    async def _watch(self) -> None:
        limit = self.limits.memory_mib * 2 ** 20
        while self.pgid:
            used = _process_group_memory(self.pgid)
            self.peak_bytes = max(self.peak_bytes, used)
            self.peak_data_bytes = max(self.peak_data_bytes, _private_data(self.pgid))
            if used > limit:
                self.killed_for_memory = True
                with contextlib.suppress(OSError):
                    os.killpg(self.pgid, signal.SIGKILL)
                return
            await asyncio.sleep(0.5)

    async def run(self, source: str, seconds: float) -> _Outcome:
        cell = nbformat.v4.new_code_cell(source)
        self.client.timeout = max(1, int(math.ceil(seconds)))
        try:
            await self.client.async_execute_cell(cell, 0)
        except CellTimeoutError:
            return _Outcome("timeout", responsive=await self._interrupt())
        except DeadKernelError:
            return _Outcome("died", reason=await self._death_reason())
        errors = [output for output in cell.outputs if output.output_type == "error"]
        verdicts = [output.data[VERDICT_MIME] for output in cell.outputs if output.output_type == "display_data"]
        error = f"{errors[0].ename}: {errors[0].evalue}" if errors else ""
        return _Outcome("error" if errors else "ok", error=error, verdict=verdicts[-1] if verdicts else None)

    async def _interrupt(self) -> bool:
        """Interrupt the running cell; True if the kernel answers again within the grace period.

        The channels are replaced by new ones: nbclient abandoned a read on the old ones when the
        cell timed out, and the old cell's late messages must not be taken for the next cell's.
        """
        with contextlib.suppress(Exception):
            await self.manager.interrupt_kernel()
        with contextlib.suppress(Exception):
            self.client.kc.stop_channels()
        connection = self.manager.client()
        connection.allow_stdin = False
        connection.start_channels()
        self.client.kc = connection
        try:
            await connection.wait_for_ready(timeout=INTERRUPT_GRACE)
        except RuntimeError:     # no answer to kernel_info within the grace period, or the kernel died
            return False
        return True

    async def _death_reason(self) -> str:
        await asyncio.sleep(0.1)
        if self.killed_for_memory:
            return f"the kernel used more than the memory limit of {self.limits.memory_mib} MiB and was stopped"
        process = getattr(self.manager.provisioner, "process", None) if self.manager else None
        code = process.poll() if process is not None else None
        if code is not None and code < 0:
            number = -code
            if number == getattr(signal, "SIGXCPU", None):
                return f"the kernel reached the CPU-time limit of {self.limits.cpu_limit()} s"
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            return f"the kernel died ({name})"
        return f"the kernel exited (status {code})" if code is not None else "the kernel died"

    async def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        if self.client is not None and self.client.kc is not None:
            with contextlib.suppress(Exception):
                self.client.kc.stop_channels()
        if self.manager is not None:
            with contextlib.suppress(Exception):
                await self.manager.shutdown_kernel(now=True)
        self.kill()
        if self.log is not None:
            self.log.close()
        self.manager = self.client = self.log = None

    def kill(self) -> None:
        """Kill what is left of the kernel's process group (synchronous; safe to call twice)."""
        if self.pgid:
            with contextlib.suppress(OSError):
                os.killpg(self.pgid, signal.SIGKILL)
        self.pgid = None


# --------------------------------------------------------------------------------------------
# Grading one submission
# --------------------------------------------------------------------------------------------

class _Verdicts:
    """Collects what each exercise's check cells said; the first that did not pass decides."""

    def __init__(self, assignment: Assignment):
        self.assignment = assignment
        self.status: dict[str, tuple[str, str]] = {}
        self.learner_errors: dict[str, str] = {}

    def record(self, exercise: str, status: str, message: str) -> None:
        current = self.status.get(exercise)
        if current is None or current[0] == "passed":
            self.status[exercise] = (status, message)

    def results(self, stopped: str) -> dict[str, ExerciseResult]:
        results = {}
        for exercise in self.assignment.exercises:
            status, message = self.status.get(exercise.name) or (
                "error", f"not graded: {stopped or 'no check of this exercise ran'}")
            if status == "error" and exercise.name in self.learner_errors:
                message = f"the cell defining `{exercise.name}` raised {self.learner_errors[exercise.name]}; then {message}"
            points = exercise.points if status == "passed" else 0.0
            results[exercise.name] = ExerciseResult(status, float(points), float(exercise.points), message)
        return results


async def _grade(plan: list[PlannedCell], assignment: Assignment, scratch: Path, limits: Limits,
                 spec_folder: Path) -> tuple[dict[str, ExerciseResult], float, float]:
    started = time.monotonic()
    deadline = started + limits.notebook_seconds
    verdicts = _Verdicts(assignment)
    kernel = _Kernel(scratch, limits, spec_folder)
    history: list[str] = []
    restarts, stopped = 0, ""
    try:
        await asyncio.wait_for(kernel.start(), timeout=max(1.0, deadline - time.monotonic()))
        for cell in plan:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stopped = f"the notebook's time limit of {limits.notebook_seconds:g} s was reached"
                break
            seconds = min(limits.cell_seconds, remaining)
            outcome = await kernel.run(cell.source, seconds)
            if outcome.kind in ("ok", "error"):
                history.append(cell.source)
                if cell.kind == "setup" and outcome.error:
                    raise CourseError(f"the grader's setup failed in the kernel: {outcome.error}")
                if cell.kind == "check":
                    verdict = outcome.verdict or {"status": "error", "message": f"the check did not run: {outcome.error}"}
                    verdicts.record(cell.exercise, str(verdict.get("status")), str(verdict.get("message", "")))
                elif cell.exercise and outcome.error:
                    verdicts.learner_errors.setdefault(cell.exercise, outcome.error)
                continue
            if outcome.kind == "timeout" and seconds < limits.cell_seconds:
                what = "the notebook's time limit was reached"
            elif outcome.kind == "timeout":
                what = (f"timed out after {limits.cell_seconds:g} s (the cell was interrupted)" if outcome.responsive
                        else f"timed out after {limits.cell_seconds:g} s and ignored the interrupt (the kernel "
                             f"was replaced)")
            else:
                what = outcome.reason
            if cell.kind == "check":
                verdicts.record(cell.exercise, "error", what)
            elif cell.exercise:
                verdicts.learner_errors.setdefault(cell.exercise, what)
            if outcome.kind == "timeout" and outcome.responsive:
                continue
            if restarts >= MAX_RESTARTS:
                stopped = f"the kernel was lost {restarts + 1} times"
                break
            restarts += 1
            if not await _restore(kernel, history, limits, deadline):
                stopped = f"the kernel could not be restored after: {what}"
                break
    except asyncio.TimeoutError:
        stopped = f"the kernel did not start within the notebook's time limit of {limits.notebook_seconds:g} s"
    finally:
        await kernel.close()
    return verdicts.results(stopped), kernel.peak_bytes / 2 ** 20, kernel.peak_data_bytes / 2 ** 20


async def _restore(kernel: _Kernel, history: list[str], limits: Limits, deadline: float) -> bool:
    """Replace a lost kernel and re-run the cells that had completed; False if that fails."""
    await kernel.close()
    await asyncio.wait_for(kernel.start(), timeout=max(1.0, deadline - time.monotonic()))
    for source in history:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        outcome = await kernel.run(source, min(limits.cell_seconds, remaining))
        if outcome.kind not in ("ok", "error"):
            return False
    return True


def _remove_tree(path: Path) -> None:
    """Remove a scratch folder, even one whose permissions the learner's code changed."""
    def retry(function, name, _):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), stat.S_IRWXU)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, stat.S_IRWXU)
            function(name)

    shutil.rmtree(path, onerror=retry)


def grade_notebook(path, solutions: Solutions, limits: Limits | None = None) -> NotebookResult:
    """Grade one submission in a fresh, limited kernel (see the module docstring).

    Args:
        path: the submitted notebook (only read).
        solutions: the solution notebooks.
        limits: time, memory and CPU limits (defaults: :class:`Limits`).

    Returns:
        The grade, exercises in notebook order.

    Raises:
        NotebookFormatError: the file is not a notebook.
        UsageError: no solution notebook matches.
    """
    limits = limits or Limits()
    path = Path(path)
    submission = student.read_notebook(path)
    assignment = solutions.match(submission, path)
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        for folder in ("work", "home", "tmp", "outputs", "kernel"):
            (scratch / folder).mkdir()
        _write_kernel_spec(scratch / "kernel", limits)
        plan = plan_cells(submission, assignment, scratch)
        exercises, peak, peak_data = asyncio.run(_grade(plan, assignment, scratch, limits, scratch / "kernel"))
    finally:
        _remove_tree(scratch)
    return NotebookResult(str(path), assignment.notebook_id, exercises, time.monotonic() - started, peak, peak_data)


# --------------------------------------------------------------------------------------------
# Reports: table, JSON, gradebook
# --------------------------------------------------------------------------------------------

def _number(value: float) -> str:
    return f"{value:g}"


def format_table(results: list[NotebookResult], width: int = 100) -> str:
    """A plain-text report: one block per submission, one line per exercise (first line of its message)."""
    lines = []
    for result in results:
        lines.append(f"{result.path}  ({result.notebook})  {_number(result.score)} / {_number(result.max_score)} points")
        name_width = max((len(name) for name in result.exercises), default=0)
        status_width = max((len(exercise.status) for exercise in result.exercises.values()), default=0)
        for name, exercise in result.exercises.items():
            first_line = exercise.message.strip().split("\n")[0] if exercise.message else ""
            if len(first_line) > width:
                first_line = first_line[:width - 3] + "..."
            row = (f"  {name:{name_width}}  {exercise.status:{status_width}}  "
                   f"{_number(exercise.points)} / {_number(exercise.max_points)}")
            lines.append(f"{row}  {first_line}".rstrip())
    return "\n".join(lines)


def to_json(results: list[NotebookResult]) -> dict:
    """The JSON document of the contract: ``{"notebooks": [...]}``."""
    return {"notebooks": [result.to_dict() for result in results]}


def gradebook_rows(results: list[NotebookResult]) -> list[list[str]]:
    """The CSV gradebook as rows: a header, then one row per submission, one column per exercise.

    Exercise columns are named by the exercise; when the submissions belong to several notebooks,
    by ``notebook/exercise``. An exercise a submission does not have is an empty cell.

    Example:
        >>> result = NotebookResult("bob.ipynb", "06_x", {"a": ExerciseResult("failed", 0.0, 1.0),
        ...                                               "b": ExerciseResult("passed", 2.0, 2.0)})
        >>> gradebook_rows([result])
        [['submission', 'notebook', 'score', 'max_score', 'a', 'b'], ['bob.ipynb', '06_x', '2', '3', '0', '2']]
    """
    several = len({result.notebook for result in results}) > 1
    columns: list[str] = []
    for result in results:
        for name in result.exercises:
            column = f"{result.notebook}/{name}" if several else name
            if column not in columns:
                columns.append(column)
    rows = [["submission", "notebook", "score", "max_score"] + columns]
    for result in results:
        points = {(f"{result.notebook}/{name}" if several else name): _number(exercise.points)
                  for name, exercise in result.exercises.items()}
        rows.append([result.path, result.notebook, _number(result.score), _number(result.max_score)]
                    + [points.get(column, "") for column in columns])
    return rows


def write_gradebook(path, results: list[NotebookResult]) -> Path:
    """Write the CSV gradebook atomically (see :func:`gradebook_rows`)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(gradebook_rows(results))
    return files.write_text(path, buffer.getvalue())


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------

def collect_submissions(arguments: list[str]) -> list[Path]:
    """The notebooks named on the command line; a folder stands for its ``*.ipynb`` files.

    Raises:
        UsageError: a path does not exist, or a folder holds no notebook.
    """
    paths: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(item for item in path.glob("*.ipynb") if item.is_file() and not item.name.startswith("."))
            if not found:
                raise UsageError(f"folder {path} holds no *.ipynb submission")
            paths.extend(found)
        elif path.exists():
            paths.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return paths


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils.grade",
        description="Grade submitted student notebooks with the course's checks, hidden checks included. "
                    "Each submission runs in a fresh kernel with time and memory limits (docs/GRADING.md).")
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help="a submitted .ipynb, or a folder of them (any file names)")
    parser.add_argument("--json", metavar="OUT", help="write the grades as JSON")
    parser.add_argument("--csv", metavar="GRADEBOOK", help="write a CSV gradebook: one row per submission")
    parser.add_argument("--solutions", metavar="FOLDER", default=str(DEFAULT_SOLUTIONS),
                        help="folder of solution notebooks (default: %(default)s)")
    parser.add_argument("--timeout", type=_positive(float), default=Limits.cell_seconds, metavar="SECONDS",
                        help="time limit per cell; the cell is interrupted and its exercise is an error "
                             "(default: %(default)g)")
    parser.add_argument("--notebook-timeout", type=_positive(float), default=Limits.notebook_seconds,
                        metavar="SECONDS", help="time limit per submission (default: %(default)g)")
    parser.add_argument("--memory", type=_positive(int), default=Limits.memory_mib, metavar="MIB",
                        help="memory limit of the kernel in MiB (default: %(default)s)")
    parser.add_argument("--cpu-time", type=_positive(int), default=None, metavar="SECONDS",
                        help="CPU-time limit of each kernel process (default: the notebook time limit "
                             "times the usable cores)")
    parser.add_argument("--fast", action=argparse.BooleanOptionalAction, default=True,
                        help="run the notebooks in fast mode, COURSE_FAST=1 (default; the checks are the "
                             "same, only the demonstrations are smaller)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.grade``: returns 0 when grading completed, 2 for unusable input."""
    args = build_parser().parse_args(argv)
    limits = Limits(cell_seconds=args.timeout, notebook_seconds=args.notebook_timeout, memory_mib=args.memory,
                    cpu_seconds=args.cpu_time, fast=args.fast)
    try:
        submissions = collect_submissions(args.submissions)
        solutions = Solutions(args.solutions)
        for path in submissions:      # every input is checked before the first kernel starts
            solutions.match(student.read_notebook(path), path)
        outputs = {option: Path(value) for option, value in (("--json", args.json), ("--csv", args.csv)) if value}
        for option, output in outputs.items():
            files.check_writable(output, inputs=submissions, what=option)
        if len(outputs) == 2 and outputs["--json"].resolve() == outputs["--csv"].resolve():
            raise UsageError(f"--json and --csv name the same file {args.json}")
        results = []
        for path in submissions:
            result = grade_notebook(path, solutions, limits)
            results.append(result)
            print(format_table([result]), flush=True)
        if args.json:
            files.write_text(args.json, json.dumps(to_json(results), indent=2) + "\n")
        if args.csv:
            write_gradebook(args.csv, results)
    except (CourseError, OSError) as error:
        return report(error)
    return 0
