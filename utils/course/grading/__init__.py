"""The autograder: grade submitted notebooks with verdicts decided outside the learner's kernel.

One module per concept (docs/GRADING.md explains the whole):

* :mod:`~utils.course.grading.assignment` — solution notebooks, their exercises and check cells;
  reading submissions into memory and matching them to their solution notebook;
* :mod:`~utils.course.grading.plan` — the notebook the grader runs (check cells become observe
  calls with a secret seed) and the static search for the answer key in the learner's cells;
* :mod:`~utils.course.grading.environment` — the variables the grader and kernels keep, the
  grader's clean re-execution;
* :mod:`~utils.course.grading.sandbox` — the sandbox each kernel runs in (bubblewrap, podman or
  docker; none only when asked), and the grader's own protection;
* :mod:`~utils.course.grading.kernel` — one limited kernel: launcher, private folders,
  process-tree watchdog, a client that trusts no message;
* :mod:`~utils.course.grading.judging` — verdicts decided in the grader's process from the
  kernel's observations;
* :mod:`~utils.course.grading.runner` — one submission, many at once, resumable, in shards;
* :mod:`~utils.course.grading.reports` — per-submission results, table, JSON, gradebook, feedback;
* :mod:`~utils.course.grading.gradescope` — the Gradescope autograder bundle;
* :mod:`~utils.course.grading.cli` — ``python -m utils.grade``.

The public names below are loaded on first use (PEP 562), so importing the package imports
neither the checks nor TensorFlow: the command line re-executes itself with a clean environment
before TensorFlow adds variables of its own.
"""

import importlib

#: Public name -> the module that defines it.
_EXPORTS = {
    "Assignment": "assignment",
    "CheckCell": "assignment",
    "Solutions": "assignment",
    "Submission": "assignment",
    "collect_submissions": "assignment",
    "parse_notebook": "assignment",
    "read_submissions": "assignment",
    "main": "cli",
    "STATUSES": "judging",
    "ExerciseResult": "judging",
    "Limits": "kernel",
    "kernel_environment": "kernel",
    "PlannedCell": "plan",
    "answer_key_uses": "plan",
    "plan_cells": "plan",
    "NotebookResult": "reports",
    "ResultStore": "reports",
    "feedback_page": "reports",
    "format_table": "reports",
    "gradebook_rows": "reports",
    "merge": "reports",
    "to_json": "reports",
    "write_gradebook": "reports",
    "grade_all": "runner",
    "select_shard": "runner",
    "Bubblewrap": "sandbox",
    "Container": "sandbox",
    "NoSandbox": "sandbox",
    "Sandbox": "sandbox",
    "make_sandbox": "sandbox",
}
_MODULES = (
    "assignment",
    "cli",
    "environment",
    "gradescope",
    "judging",
    "kernel",
    "plan",
    "reports",
    "runner",
    "sandbox",
    "text",
)

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
