"""Grading submissions: one at a time in a fresh sandboxed kernel, several at once, resumable, in shards.

For each submission, when its turn comes, the grader loads it (:meth:`Submission.load`), builds
the notebook to run (:mod:`~utils.course.grading.plan`) with a secret seed drawn for it
(``secrets``), reads the learner's own cells for the answer key, runs the cells in a fresh kernel
in its own sandbox (:mod:`~utils.course.grading.kernel`, :mod:`~utils.course.grading.sandbox`)
with a time limit per cell and one for the whole notebook, and judges every check cell's
observation in its own process (:mod:`~utils.course.grading.judging`).

**One runaway cell costs one exercise.** A cell that runs out of time is interrupted (SIGINT) and
grading goes on with the next cell. A kernel that has to be replaced — it ignored the interrupt,
died (memory, CPU time, a crash, its launcher killed), sent a message over the size cap, or its
cell printed more than the grader reads — is replaced by a fresh sandbox that re-runs the
learner's cells that had completed, without the runaway one, and grading goes on with the cell
after it (at most :data:`MAX_RESTARTS` times per submission). Only a kernel that sends a
malformed message ends its submission: every exercise not graded yet is an error; the run goes on.

:func:`grade_all` grades ``jobs`` submissions at once in one event loop (each its own kernel),
judging one observation at a time in a worker thread, and returns the results in the order of
the submissions, whatever order they finish in: the grades are the same as serial grading.
Results are saved as each submission completes (:class:`~utils.course.grading.reports.ResultStore`),
and a submission is marked *in flight* before its kernel starts: ``--resume`` grades the
submissions that were in flight when a run was stopped first, one at a time, and one found in
flight a second time is graded ``error`` ("the grader was stopped during this submission twice")
so that a notebook that brings the grader down cannot stop a class from being graded. Before
the first kernel starts and after each submission, the grader compares the course library's
files (``utils/``) with their state at the start: a change (only possible without a sandbox,
where kernels can write the checkout) stops the run with an error naming the submissions that
were running.
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
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from utils import config
from utils.course.grading import judging
from utils.course.grading import plan as planning
from utils.course.grading.assignment import Submission
from utils.course.grading.kernel import Kernel, Limits, check_platform, usable_cores
from utils.course.grading.reports import NotebookResult, ResultStore
from utils.course.grading.sandbox import Sandbox, make_sandbox, protect_grader
from utils.errors import CourseError, GradingError, UsageError

#: Kernels replaced at most this often per submission; after that grading of it stops.
MAX_RESTARTS = 3

#: How often a run may be stopped while a submission is in flight before ``--resume`` grades it ``error``.
MAX_STOPS = 2

#: The message of a submission that was in flight each time the grader was stopped.
STOPPED_TWICE = "the grader was stopped during this submission twice"

#: Memory the grader's own process needs beside the kernels (MiB), for the default ``--jobs``.
GRADER_MIB = 1500


def default_jobs(limits: Limits) -> int:
    """How many submissions to grade at once: the usable cores, and no more kernels than fit in
    the available memory at their limit beside the grader's own process (at least 1)."""
    available = psutil.virtual_memory().available / 2**20
    by_memory = int((available - GRADER_MIB) // max(limits.memory_mib, 1))
    return max(1, min(usable_cores(), by_memory))


def submission_seed(master: bytes, submission: Submission) -> int:
    """The secret seed of one submission's hidden cases: HMAC of its path and sha256 under the run's secret.

    Example:
        >>> from types import SimpleNamespace
        >>> one = SimpleNamespace(digest="ab" * 32, path="a")
        >>> submission_seed(b"k", one) == submission_seed(b"k", one) != submission_seed(b"j", one)
        True
    """
    digest = hmac.new(
        master,
        submission.path.encode("utf-8", "surrogateescape") + b"\0" + bytes.fromhex(submission.digest),
        hashlib.sha256,
    ).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # a non-negative 63-bit integer


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

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:  # pragma: no cover - Python 3.11 has only onerror (deprecated from 3.12 on)
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


def _not_graded(submission: Submission, why: str, started: float | None = None) -> NotebookResult:
    """The result of a submission that could not be graded: every exercise ``error`` with ``why``."""
    assignment = submission.assignment
    verdicts = judging.Verdicts(
        [exercise.name for exercise in assignment.exercises],
        {exercise.name: exercise.points for exercise in assignment.exercises},
    )
    seconds = time.monotonic() - started if started is not None else 0.0
    return NotebookResult(
        submission.path,
        assignment.notebook_id,
        verdicts.results(why),
        seconds,
        0.0,
        0.0,
        submission.digest,
        assignment.digest,
    )


async def grade_submission(
    submission: Submission, limits: Limits, seed: int, judge: _Judge, sandbox: Sandbox | None = None
) -> NotebookResult:
    """Grade one submission in fresh sandboxed kernels (see the module docstring)."""
    assignment = submission.assignment
    started = time.monotonic()
    deadline = started + limits.notebook_seconds
    try:
        notebook = submission.load()
    except CourseError as error:
        return _not_graded(submission, str(error), started)
    plan = planning.plan_cells(notebook, assignment, seed)
    del notebook
    verdicts = judging.Verdicts(
        [exercise.name for exercise in assignment.exercises],
        {exercise.name: exercise.points for exercise in assignment.exercises},
    )
    verdicts.record_answer_key(
        planning.answer_key_uses(plan, judging.answer_keys(exercise.name for exercise in assignment.exercises))
    )
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    kernels = 0
    peak = peak_data = 0

    def new_kernel() -> Kernel:
        nonlocal kernels
        kernels += 1
        return Kernel(scratch / f"kernel-{kernels}", limits, planning.OBSERVATION_MIME, sandbox)

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
                what = (
                    f"timed out after {limits.cell_seconds:g} s (the cell was interrupted)"
                    if outcome.responsive
                    else f"timed out after {limits.cell_seconds:g} s and ignored the interrupt (the kernel "
                    f"was replaced)"
                )
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
            # The runaway cell is left out; the learner's other cells run again in a fresh sandbox. A cell
            # that had completed but does not complete again (its harm came late) is left out too.
            problem = "no replacement kernel"
            while restarts < MAX_RESTARTS:
                restarts += 1
                peak, peak_data = max(peak, kernel.peak_bytes), max(peak_data, kernel.peak_data_bytes)
                await kernel.close()
                kernel = new_kernel()
                problem, failed = await _restore(kernel, history, limits, deadline)
                if not problem or failed is None:
                    break
                del history[failed]
            if problem:
                stopped = f"the kernel could not be restored after: {what} ({problem})"
                break
    finally:
        peak, peak_data = max(peak, kernel.peak_bytes), max(peak_data, kernel.peak_data_bytes)
        await kernel.close()
        _remove_tree(scratch)
    return NotebookResult(
        submission.path,
        assignment.notebook_id,
        verdicts.results(stopped),
        time.monotonic() - started,
        peak / 2**20,
        peak_data / 2**20,
        submission.digest,
        assignment.digest,
        learner_code(plan),
    )


async def _restore(kernel: Kernel, history: list[str], limits: Limits, deadline: float) -> tuple[str, int | None]:
    """Start a replacement kernel and re-run the cells that had completed.

    Returns:
        ``("", None)``, or why that failed and the position in ``history`` of the cell that did
        not complete again (None when the kernel did not start or time ran out).
    """
    try:
        await kernel.start(timeout=max(1.0, min(120.0, deadline - time.monotonic())))
    except CourseError as error:
        return str(error), None
    for position, source in enumerate(history):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "the notebook's time limit was reached", None
        outcome = await kernel.run(source, min(limits.cell_seconds, remaining))
        if outcome.kind not in ("ok", "error"):
            return f"a cell that had completed did not complete again ({outcome.reason or outcome.kind})", position
    return "", None


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


def grade_all(
    submissions: list[Submission],
    limits: Limits | None = None,
    jobs: int = 1,
    store: ResultStore | None = None,
    resume: bool = False,
    master: bytes | None = None,
    on_result: Callable[[NotebookResult], None] | None = None,
    watch: Path | None = LIBRARY,
    sandbox: Sandbox | None = None,
) -> list[NotebookResult]:
    """Grade submissions, ``jobs`` at a time, each kernel in its own sandbox; results in the submissions' order.

    Args:
        submissions: checked and matched (:func:`~utils.course.grading.assignment.read_submissions`).
        limits: the limits of each kernel (default :class:`Limits`).
        jobs: submissions graded at once (each its own kernel).
        store: where each result is saved as soon as it is graded, and each submission marked in
            flight while it is (None: nowhere).
        resume: skip the submissions whose result ``store`` already holds (same bytes, same solution);
            grade those left in flight first, one at a time (see the module docstring).
        master: the run's secret from which each submission's seed is derived (default: drawn now
            with ``secrets``; pass one only to re-grade reproducibly, and keep it out of the kernels' reach).
        on_result: called with each result in the submissions' order, as soon as it and all
            before it are done (the table on stdout).
        watch: the folder whose files must not change while grading (default: the course library;
            None: not watched).
        sandbox: where kernels run (default: bubblewrap, checked here; pass
            :class:`~utils.course.grading.sandbox.NoSandbox` to run them unconfined).

    Returns:
        One result per submission, in order.

    Raises:
        GradingError: the course library changed on disk during grading.
        UsageError: this platform cannot enforce the limits, or no sandbox can be made here.
    """
    check_platform()
    limits = limits or Limits()
    sandbox = sandbox if sandbox is not None else make_sandbox("bubblewrap", memory_mib=limits.memory_mib)
    sandbox.check()
    protect_grader()
    master = master if master is not None else secrets.token_bytes(32)
    if resume and store is None:
        raise UsageError("--resume needs a results folder (--results, or --json/--csv to derive it from)")
    return asyncio.run(
        _grade_all(submissions, limits, max(1, int(jobs)), store, resume, master, on_result, watch, sandbox)
    )


async def _grade_all(
    submissions, limits, jobs, store, resume, master, on_result, watch, sandbox
) -> list[NotebookResult]:
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

    def finish(index: int, submission: Submission, result: NotebookResult) -> None:
        if store is not None:
            store.save(result)
            store.clear_in_flight(submission.path)
        results[index] = result
        show_ready()

    async def one(index: int, submission: Submission):
        key = (submission.path, submission.digest, submission.assignment.digest)
        stops = store.stops(*key) if (resume and store is not None) else 0
        if stops >= MAX_STOPS:
            finish(index, submission, _not_graded(submission, STOPPED_TWICE))
            return
        async with semaphore:
            if changed:
                return
            running.add(submission.path)
            if store is not None:
                store.mark_in_flight(*key, stops=stops)
            try:
                result = await grade_submission(submission, limits, submission_seed(master, submission), judge, sandbox)
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
            finish(index, submission, result)

    pending = []
    for index, submission in enumerate(submissions):
        previous = store.load(submission.path, submission.digest, submission.assignment.digest) if resume else None
        if previous is not None:
            results[index] = previous
        else:
            pending.append(index)
    show_ready()
    # Those in flight when a run was stopped go first, alone: if one of them stops the grader again,
    # it was the only one running, and the next --resume grades it ``error``.
    suspects = [
        index
        for index in pending
        if resume
        and store is not None
        and store.stops(submissions[index].path, submissions[index].digest, submissions[index].assignment.digest)
    ]
    try:
        for index in suspects:
            await one(index, submissions[index])
        await asyncio.gather(*(one(index, submissions[index]) for index in pending if index not in suspects))
    finally:
        executor.shutdown(wait=True)
    if changed:
        raise GradingError(
            f"the course library changed on disk during grading ({changed[0]}) while these "
            f"submissions ran: {', '.join(changed[1:])}; grading stopped (the results so far are "
            f"saved): restore the checkout (git status) and grade those in a sandbox "
            f"(docs/GRADING.md)"
        )
    return [result for result in results if result is not None]
