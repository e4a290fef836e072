"""Project-wide settings read from the environment in exactly one place.

Importing this module (which ``import utils`` does) also quiets TensorFlow's C++ start-up log.
That has to happen before TensorFlow is imported, so it lives here, in the first module anything
in the course imports. Two things are needed: ``TF_CPP_MIN_LOG_LEVEL=2`` (unless the user chose a
level) for TensorFlow's own logging, and, because TensorFlow 2.21 writes its oneDNN and
cpu-feature notices through absl *before* absl's logging is initialised (no environment variable
reaches those), a one-shot import hook that captures the process's stderr while ``tensorflow``
is being imported and writes back every line except those known notices. Set
``COURSE_TF_LOG=verbose`` to see everything.

``COURSE_FAST=1`` switches every notebook, demo and benchmark to *fast mode*: fewer optimisation
steps, smaller images and subsets of the data sets. Fast mode never changes which code runs, only
how much of it; CI sets it so the whole suite fits in a few minutes on two CPU cores.

Example:
    >>> from utils import config
    >>> steps = config.pick(normal=500, fast=20)
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

#: TensorFlow's C++ log level when the user has not chosen one (2 = warnings and errors only).
TF_LOG_LEVEL = "2"

#: Start-up notices TensorFlow prints on every import, which say nothing to a learner.
TF_NOISE = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on",
            "cpu_feature_guard", "To enable the following instructions", "rebuild TensorFlow with")


@contextlib.contextmanager
def _without_tensorflow_notices():
    """Capture file descriptor 2 (C++ writes there directly); write back all but the notices."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not any(noise in line for noise in TF_NOISE)]
            if kept:
                sys.stderr.write("".join(kept))


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """One-shot import hook: the first ``import tensorflow`` runs inside the stderr filter."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            execute = spec.loader.exec_module

            def exec_module(module):
                with _without_tensorflow_notices():
                    execute(module)

            spec.loader.exec_module = exec_module
        return spec


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
# FAISS and scikit-learn share one OpenMP runtime; with its default (active) wait policy idle
# threads spin and slow everything else on a busy 2-core machine 5-10x. It is read when the
# runtime loads, so it is set here, before anything imports it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if (os.environ.get("COURSE_TF_LOG", "").lower() != "verbose" and "tensorflow" not in sys.modules
        and not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path)):
    sys.meta_path.insert(0, _QuietTensorFlowImport())

#: Root of the checkout (the folder that holds ``utils/``).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Name of the environment variable that turns fast mode on.
FAST_ENV_VAR = "COURSE_FAST"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


#: True when fast mode is on (read once, at import).
FAST = _truthy(os.environ.get(FAST_ENV_VAR))


def fast_mode() -> bool:
    """Return True when ``COURSE_FAST`` asks for fast mode."""
    return FAST


def pick(normal, fast):
    """Return ``fast`` in fast mode and ``normal`` otherwise.

    Args:
        normal: value used for a real run (e.g. 500 optimisation steps).
        fast: value used in fast mode (e.g. 20 steps).

    Returns:
        One of the two values.
    """
    return fast if FAST else normal


#: Environment variable naming the folder demos and notebooks write results to (default
#: ``outputs/`` in the checkout; the autograder points it into each submission's scratch folder).
OUTPUTS_ENV_VAR = "COURSE_OUTPUTS"


def output_dir(name: str = "") -> Path:
    """Return (and create) ``<outputs>/<name>``, where demos and notebooks write results.

    ``<outputs>`` is ``$COURSE_OUTPUTS`` when set, else ``outputs/`` in the checkout.
    """
    root = Path(os.environ[OUTPUTS_ENV_VAR]).expanduser() if os.environ.get(OUTPUTS_ENV_VAR) \
        else REPO_ROOT / "outputs"
    path = root / name if name else root
    path.mkdir(parents=True, exist_ok=True)
    return path
