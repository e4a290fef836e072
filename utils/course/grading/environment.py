"""The environment variables the grader and its kernels keep; the grader's clean re-execution.

Without a sandbox a kernel can read the environment of any process of the same user that is not
protected. So the command line re-executes itself, before it imports anything heavy, with only
:data:`GRADER_ENV` (:func:`reexec_clean`): the processes that start and watch the kernels hold no
token, key or password. Each kernel gets only :data:`PASSED_ENV` and its private folders
(:func:`utils.course.grading.kernel.kernel_environment`).

The re-executed grader also reads and writes Python bytecode only in a private folder of its own
(``PYTHONPYCACHEPREFIX``, :func:`private_bytecode_folder`), never in the checkout's
``__pycache__`` folders: a ``.pyc`` planted there (by a kernel graded without a sandbox, say)
is never loaded by the process that judges.

This module imports nothing but the standard library and :mod:`utils.config`.

Example:
    >>> sorted(clean_environment({"PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "x"}, repo="/course", bytecode="/c"))
    ['COURSE_GRADER_CLEAN', 'PATH', 'PYTHONPATH', 'PYTHONPYCACHEPREFIX']
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from utils import config

#: Environment variables a kernel inherits; everything else (tokens, keys, passwords) stays out.
PASSED_ENV = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_NUMERIC",
    "TZ",
    "TERM",
    "LD_LIBRARY_PATH",
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_CPP_MIN_LOG_LEVEL",
    "TF_ENABLE_ONEDNN_OPTS",
    "KERAS_BACKEND",
    "COURSE_SHARED",
    "COURSE_ASSETS",
    "COURSE_ASSETS_CACHE",
    "COURSE_TF_LOG",
    "COURSE_DTYPE",
    "VIRTUAL_ENV",
)

#: Set in the re-executed grader (so it never re-executes twice).
CLEAN_MARKER = "COURSE_GRADER_CLEAN"

#: What the grader's own process keeps when it re-executes itself.
GRADER_ENV = PASSED_ENV + ("HOME", "TMPDIR", "PYTHONPATH", "USER", "LOGNAME", "FAST_ENV", "OUTPUTS_ENV", CLEAN_MARKER)
GRADER_ENV = tuple(
    config.FAST_ENV_VAR if name == "FAST_ENV" else config.OUTPUTS_ENV_VAR if name == "OUTPUTS_ENV" else name
    for name in GRADER_ENV
)


def private_bytecode_folder(environ=None) -> Path:
    """The grader's own bytecode cache: ``$XDG_CACHE_HOME/course-grader/pycache`` (``~/.cache/...``).

    Made with mode 0700; used only if it belongs to this user and nobody else may write it,
    else a new temporary folder is used (and Python compiles the sources it imports once more).

    Example:
        >>> private_bytecode_folder({"XDG_CACHE_HOME": tempfile.mkdtemp()}).name
        'pycache'
    """
    environ = os.environ if environ is None else environ
    base = Path(environ.get("XDG_CACHE_HOME") or Path(environ.get("HOME") or Path.home()) / ".cache")
    folder = base / "course-grader" / "pycache"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path in (folder, folder.parent):
            info = path.lstat()
            if (
                not stat.S_ISDIR(info.st_mode)
                or info.st_uid != os.geteuid()
                or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            ):
                raise PermissionError(str(path))
        return folder
    except OSError:
        return Path(tempfile.mkdtemp(prefix="course-grader-pycache-"))


def clean_environment(environ=None, repo=None, bytecode=None) -> dict[str, str]:
    """The grader's environment after re-execution: :data:`GRADER_ENV` only, the checkout first on
    PYTHONPATH, bytecode in the grader's private folder.

    Args:
        environ: the variables to pick from (default: this process's).
        repo: the checkout to put on PYTHONPATH (default: this one).
        bytecode: the private bytecode folder (default: :func:`private_bytecode_folder`).
    """
    environ = os.environ if environ is None else environ
    repo = str(repo or config.REPO_ROOT)
    env = {name: environ[name] for name in GRADER_ENV if name in environ}
    paths = [path for path in env.get("PYTHONPATH", "").split(os.pathsep) if path and path != repo]
    env["PYTHONPATH"] = os.pathsep.join([repo] + paths)
    env["PYTHONPYCACHEPREFIX"] = str(bytecode or private_bytecode_folder(environ))
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
