"""Grading submissions: one at a time in a fresh kernel, several at once, resumable, in shards.

For each submission the grader builds the notebook to run (:mod:`~utils.course.grading.plan`)
with a secret seed drawn for it (``secrets``), reads the learner's own cells for the answer key,
runs the cells in a fresh kernel (:mod:`~utils.course.grading.kernel`) with a time limit per
cell and one for the whole notebook, and judges every check cell's observation in its own
process (:mod:`~utils.course.grading.judging`). A cell that runs out of time is interrupted
(SIGINT) and grading goes on with the next cell; a kernel that ignores the interrupt or dies
(memory, CPU time, a crash) is replaced by a new one — with new private folders — that re-runs
the cells that had completed, without the culprit. A kernel that sends a malformed message ends
its submission: every exercise not graded yet is an error; the run goes on.

:func:`grade_all` grades ``jobs`` submissions at once in one event loop (each its own kernel),
judging one observation at a time in a worker thread, and returns the results in the order of
the submissions, whatever order they finish in: the grades are the same as serial grading.
Results are saved as each submission completes (:class:`~utils.course.grading.reports.ResultStore`).
Before the first kernel starts and after each submission, the grader compares the course
library's files (``utils/``, which every kernel imports) with their state at the start: a learner's
code that rewrote them stops the run with an error naming the submissions that were running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import hmac
import os
import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable

import psutil

from utils import config
from utils.course.grading import judging, plan as planning
from utils.course.grading.assignment import Submission
from utils.course.grading.kernel import Kernel, Limits, check_platform, usable_cores
from utils.course.grading.reports import NotebookResult, ResultStore
from utils.errors import CourseError, GradingError, UsageError

#: Kernels replaced at most this often per submission; after that grading of it stops.
MAX_RESTARTS = 3

#: Memory the grader's own process needs beside the kernels (MiB), for the default ``--jobs``.
GRADER_MIB = 1500


def default_jobs(limits: Limits) -> int:
    """How many submissions to grade at once: the usable cores, and no more kernels than fit in
    the available memory at their limit beside the grader's own process (at least 1)."""
    available = psutil.virtual_memory().available / 2 ** 20
    by_memory = int((available - GRADER_MIB) // max(limits.memory_mib, 1))
    return max(1, min(usable_cores(), by_memory))


def submission_seed(master: bytes, submission: Submission) -> int:
    """The secret seed of one submission's hidden cases: HMAC of its bytes under the run's secret.

    Example:
        >>> from types import SimpleNamespace
        >>> submission_seed(b"k", SimpleNamespace(data=b"x", path="a")) == submission_seed(b"k", SimpleNamespace(data=b"x", path="a"))
        True
    """
    digest = hmac.new(master, submission.path.encode("utf-8", "surrogateescape") + b"\0" + submission.data,
                      hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1          # a non-negative 63-bit integer


#: The folder every kernel imports the course from, watched for changes during grading.
LIBRARY = config.REPO_ROOT / "utils"


def library_state(root: Path | None = LIBRARY) -> dict[str, str]:
    """sha256 of every file under ``root`` (the course library every kernel imports); {} for None."""
    state: dict[str, str] = {}
    if root is None:
        return state
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            with contextlib.suppress(OSError):
                state[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def _remove_tree(path: Path) -> None:
    """Remove a scratch folder, even one whose permissions the learner's code changed."""
    def retry(function, name, _):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), stat.S_IRWXU)
            if os.path.isdir(name) and not os.path.islink(name):
                os.chmod(name, stat.S_IRWXU)
            function(name)

    shutil.rmtree(path, onerror=retry)


def learner_code(plan: list[planning.PlannedCell]) -> dict[str, str]:
    """Exercise -> the source of the learner's cells that define it (for the feedback page)."""
    code: dict[str, list[str]] = {}
    for cell in plan:
        if cell.kind == "learner" and cell.exercise:
            code.setdefault(cell.exercise, []).append(cell.source)
    return {name: "\n\n".join(sources) for name, sources in code.items()}


@dataclasses.dataclass
class _Judge:
    """Judges observations one at a time, off the event loop (TensorFlow is not re-entrant)."""

    executor: concurrent.futures.ThreadPoolExecutor

    async def __call__(self, cell, outcome, seed):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, judging.judge_check_cell, cell, outcome, seed)


async def grade_submission(submission: Submission, limits: Limits, seed: int, judge: _Judge) -> NotebookResult:
    """Grade one submission in fresh kernels (see the module docstring)."""
    assignment = submission.assignment
    started = time.monotonic()
    deadline = started + limits.notebook_seconds
    plan = planning.plan_cells(submission.notebook, assignment, seed)
    verdicts = judging.Verdicts([exercise.name for exercise in assignment.exercises],
                                {exercise.name: exercise.points for exercise in assignment.exercises})
    verdicts.record_answer_key(planning.answer_key_uses(
        plan, judging.answer_keys(exercise.name for exercise in assignment.exercises)))
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    work = scratch / "work"
    work.mkdir()
    (scratch / "outputs").mkdir()
    kernels = 0
    peak = peak_data = 0

    def new_kernel() -> Kernel:
        nonlocal kernels
        kernels += 1
        return Kernel(scratch / f"kernel-{kernels}", work, limits, planning.OBSERVATION_MIME)

    kernel = new_kernel()
    history: list[str] = []
    restarts, stopped = 0, ""
    try:
        try:
            await kernel.start(timeout=max(1.0, min(120.0, deadline - time.monotonic())))
        except CourseError as error:
            stopped = str(error)
            plan = []
        for cell in plan:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stopped = f"the notebook's time limit of {limits.notebook_seconds:g} s was reached"
                break
            seconds = min(limits.cell_seconds, remaining)
            outcome = await kernel.run(cell.source, seconds)
            if outcome.kind in ("ok", "error"):
                history.append(cell.source)
                if cell.kind == "check":
                    for exercise, status, message in await judge(cell, outcome, seed):
                        verdicts.record(exercise, status, message)
                elif cell.exercise and outcome.error:
                    verdicts.learner_errors.setdefault(cell.exercise, outcome.error)
                continue
            if outcome.kind == "malformed":
                stopped = outcome.reason
                for exercise, _ in cell.observations:
                    verdicts.record(exercise, "error", outcome.reason)
                verdicts.record(cell.exercise, "error", outcome.reason)
                break
            if outcome.kind == "timeout" and seconds < limits.cell_seconds:
                what = "the notebook's time limit was reached"
            elif outcome.kind == "timeout":
                what = (f"timed out after {limits.cell_seconds:g} s (the cell was interrupted)" if outcome.responsive
                        else f"timed out after {limits.cell_seconds:g} s and ignored the interrupt (the kernel "
                             f"was replaced)")
            else:
                what = outcome.reason
            if cell.kind == "check":
                for exercise, _ in cell.observations:
                    verdicts.record(exercise, "error", what)
                verdicts.record(cell.exercise, "error", what)
            elif cell.exercise:
                verdicts.learner_errors.setdefault(cell.exercise, what)
            if outcome.kind == "timeout" and outcome.responsive:
                continue
            if restarts >= MAX_RESTARTS:
                stopped = f"the kernel was lost {restarts + 1} times"
                break
            restarts += 1
            peak, peak_data = max(peak, kernel.peak_bytes), max(peak_data, kernel.peak_data_bytes)
            await kernel.close()
            kernel = new_kernel()
            problem = await _restore(kernel, history, limits, deadline)
            if problem:
                stopped = f"the kernel could not be restored after: {what} ({problem})"
                break
    finally:
        peak, peak_data = max(peak, kernel.peak_bytes), max(peak_data, kernel.peak_data_bytes)
        await kernel.close()
        _remove_tree(scratch)
    return NotebookResult(submission.path, assignment.notebook_id, verdicts.results(stopped),
                          time.monotonic() - started, peak / 2 ** 20, peak_data / 2 ** 20,
                          submission.digest, assignment.digest, learner_code(plan))


async def _restore(kernel: Kernel, history: list[str], limits: Limits, deadline: float) -> str:
    """Start a replacement kernel and re-run the cells that had completed; "" or why that failed."""
    try:
        await kernel.start(timeout=max(1.0, min(120.0, deadline - time.monotonic())))
    except CourseError as error:
        return str(error)
    for source in history:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "the notebook's time limit was reached"
        outcome = await kernel.run(source, min(limits.cell_seconds, remaining))
        if outcome.kind not in ("ok", "error"):
            return f"a cell that had completed did not complete again ({outcome.reason or outcome.kind})"
    return ""


def select_shard(submissions: list, shard: tuple[int, int] | None) -> list:
    """The submissions of shard ``(index, count)``: every ``count``-th one from ``index`` (0-based).

    Example:
        >>> select_shard(list("abcdefg"), (1, 3))
        ['b', 'e']
    """
    if shard is None:
        return list(submissions)
    index, count = shard
    return [item for number, item in enumerate(submissions) if number % count == index]


def grade_all(submissions: list[Submission], limits: Limits | None = None, jobs: int = 1,
              store: ResultStore | None = None, resume: bool = False, master: bytes | None = None,
              on_result: Callable[[NotebookResult], None] | None = None,
              watch: Path | None = LIBRARY) -> list[NotebookResult]:
    """Grade submissions, ``jobs`` at a time; results in the submissions' order.

    Args:
        submissions: read and matched (:func:`~utils.course.grading.assignment.read_submissions`).
        limits: the limits of each kernel (default :class:`Limits`).
        jobs: submissions graded at once (each its own kernel).
        store: where each result is saved as soon as it is graded (None: nowhere).
        resume: skip the submissions whose result ``store`` already holds (same bytes, same solution).
        master: the run's secret from which each submission's seed is derived (default: drawn now
            with ``secrets``; pass one only to re-grade reproducibly, and keep it out of the kernels' reach).
        on_result: called with each result in the submissions' order, as soon as it and all
            before it are done (the table on stdout).
        watch: the folder whose files must not change while grading (default: the course library;
            None: not watched).

    Returns:
        One result per submission, in order.

    Raises:
        GradingError: the course library changed on disk during grading.
        UsageError: this platform cannot enforce the limits.
    """
    check_platform()
    limits = limits or Limits()
    master = master if master is not None else secrets.token_bytes(32)
    if resume and store is None:
        raise UsageError("--resume needs a results folder (--results, or --json/--csv to derive it from)")
    return asyncio.run(_grade_all(submissions, limits, max(1, int(jobs)), store, resume, master, on_result, watch))


async def _grade_all(submissions, limits, jobs, store, resume, master, on_result, watch) -> list[NotebookResult]:
    results: list[NotebookResult | None] = [None] * len(submissions)
    shown = 0
    running: set[str] = set()
    state = library_state(watch)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="course-judge")
    judge = _Judge(executor)
    semaphore = asyncio.Semaphore(jobs)
    changed: list[str] = []

    def show_ready():
        nonlocal shown
        while shown < len(results) and results[shown] is not None:
            if on_result is not None:
                on_result(results[shown])
            shown += 1

    async def one(index: int, submission: Submission):
        if resume:
            previous = store.load(submission.path, submission.digest, submission.assignment.digest)
            if previous is not None:
                results[index] = previous
                show_ready()
                return
        async with semaphore:
            if changed:
                return
            running.add(submission.path)
            try:
                result = await grade_submission(submission, limits, submission_seed(master, submission), judge)
            finally:
                running.discard(submission.path)
            now = library_state(watch)
            if now != state:
                if not changed:
                    files_changed = sorted(name for name in set(now) | set(state) if now.get(name) != state.get(name))
                    changed.append(f"{watch / files_changed[0]} changed")
                changed.append(submission.path)
                changed.extend(sorted(running))
                return
            if store is not None:
                store.save(result)
            results[index] = result
            show_ready()

    try:
        await asyncio.gather(*(one(index, submission) for index, submission in enumerate(submissions)))
    finally:
        executor.shutdown(wait=True)
    if changed:
        raise GradingError(f"the course library changed on disk during grading ({changed[0]}) while these "
                           f"submissions ran: {', '.join(changed[1:])}; grading stopped (the results so far are "
                           f"saved): restore the checkout (git status) and grade those inside a container "
                           f"(docs/GRADING.md)")
    return [result for result in results if result is not None]
