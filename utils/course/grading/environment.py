"""The environment variables the grader and its kernels keep; the grader's clean re-execution.

A kernel can read the environment of its parent and grandparent (``/proc/<ppid>/environ`` on
Linux) and of any process of the same user. So the command line re-executes itself, before it
imports anything heavy, with only :data:`GRADER_ENV` (:func:`reexec_clean`): the processes that
start and watch the kernels hold no token, key or password. Each kernel gets only
:data:`PASSED_ENV` and its private folders (:func:`utils.course.grading.kernel.kernel_environment`).

This module imports nothing but the standard library and :mod:`utils.config`.

Example:
    >>> sorted(clean_environment({"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "x"}, repo="/course"))
    ['COURSE_GRADER_CLEAN', 'PATH', 'PYTHONPATH']
"""

from __future__ import annotations

import os
import sys

from utils import config

#: Environment variables a kernel inherits; everything else (tokens, keys, passwords) stays out.
PASSED_ENV = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_NUMERIC", "TZ", "TERM",
              "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
              "TF_NUM_INTEROP_THREADS", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND",
              "COURSE_SHARED", "COURSE_ASSETS", "COURSE_ASSETS_CACHE", "COURSE_TF_LOG", "COURSE_DTYPE",
              "VIRTUAL_ENV")

#: Set in the re-executed grader (so it never re-executes twice).
CLEAN_MARKER = "COURSE_GRADER_CLEAN"

#: What the grader's own process keeps when it re-executes itself.
GRADER_ENV = PASSED_ENV + ("HOME", "TMPDIR", "PYTHONPATH", "USER", "LOGNAME", "FAST_ENV", "OUTPUTS_ENV",
                           CLEAN_MARKER)
GRADER_ENV = tuple(config.FAST_ENV_VAR if name == "FAST_ENV" else config.OUTPUTS_ENV_VAR if name == "OUTPUTS_ENV"
                   else name for name in GRADER_ENV)


def clean_environment(environ=None, repo=None) -> dict[str, str]:
    """The grader's environment after re-execution: :data:`GRADER_ENV` only, the checkout first on PYTHONPATH.

    Args:
        environ: the variables to pick from (default: this process's).
        repo: the checkout to put on PYTHONPATH (default: this one).
    """
    environ = os.environ if environ is None else environ
    repo = str(repo or config.REPO_ROOT)
    env = {name: environ[name] for name in GRADER_ENV if name in environ}
    paths = [path for path in env.get("PYTHONPATH", "").split(os.pathsep) if path and path != repo]
    env["PYTHONPATH"] = os.pathsep.join([repo] + paths)
    env[CLEAN_MARKER] = "1"
    return env


def reexec_clean(argv: list[str]) -> None:
    """Replace this process by ``python -m utils.grade ARGV`` with :func:`clean_environment`.

    POSIX only (elsewhere, and once re-executed, it returns without doing anything). Call it
    before importing TensorFlow, which adds variables of its own to the environment.
    """
    if os.name != "posix" or os.environ.get(CLEAN_MARKER) == "1":
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "utils.grade", *argv], clean_environment())
