"""Settings read in one place; TensorFlow's start-up notices silenced without hiding real errors."""

import subprocess
import sys

import pytest

from utils import config


def test_pick_follows_fast_mode():
    assert config.pick(normal=500, fast=20) == (20 if config.FAST else 500)


def _run(code: str, **environment) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", **environment}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=config.REPO_ROOT, timeout=120
    )


@pytest.mark.slow
def test_importing_tensorflow_after_utils_prints_no_start_up_notices():
    quiet = _run(
        "import utils, sys; import tensorflow as tf; print(int(tf.constant(2) + 1)); "
        "print('real problem', file=sys.stderr)"
    )
    assert quiet.returncode == 0 and quiet.stdout.strip() == "3"
    assert quiet.stderr.strip() == "real problem", quiet.stderr  # other stderr output still shows
    loud = _run("import utils; import tensorflow", COURSE_TF_LOG="verbose")
    assert loud.returncode == 0
    assert any(noise in loud.stderr for noise in config.TF_NOISE), "expected the notices to show when asked"
