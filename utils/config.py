"""Project-wide settings read from the environment in exactly one place.

Importing this module (which ``import utils`` does) also quiets TensorFlow's C++ start-up log
(absl/oneDNN/cpu-feature lines) by setting ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user set it:
it must happen before TensorFlow is imported, so it lives here, in the first module anything in
the course imports. Python-level warnings and errors still show.

``COURSE_FAST=1`` switches every notebook, demo and benchmark to *fast mode*: fewer optimisation
steps, smaller images and subsets of the data sets. Fast mode never changes which code runs, only
how much of it; CI sets it so the whole suite fits in a few minutes on two CPU cores.

Example:
    >>> from utils import config
    >>> steps = config.pick(normal=500, fast=20)
"""

from __future__ import annotations

import os
from pathlib import Path

#: TensorFlow's C++ log level when the user has not chosen one (2 = warnings and errors only).
TF_LOG_LEVEL = "2"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)

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


def output_dir(name: str = "") -> Path:
    """Return (and create) ``outputs/<name>`` under the checkout, where demos write results."""
    path = REPO_ROOT / "outputs" / name if name else REPO_ROOT / "outputs"
    path.mkdir(parents=True, exist_ok=True)
    return path
