"""The limits of a learner's kernel: time, memory counted as used, CPU, and processes that try to outlive it.

One grading run (module fixture) grades one ``06_tiny`` submission per case; each case breaks
``conv_output_size`` (1 point) or adds a cell, and ``conv_param_count`` (2 points) is right, so
"2 points" means grading went on after the culprit.
"""

from __future__ import annotations

import pytest

from test_course_grade_helpers import RIGHT_SIZE, TinyCourse, needs_sandbox, statuses, survivors
from utils.course.grading import format_table, grade_all
from utils.course.grading import kernel as kernels
from utils.course.grading.kernel import Limits

pytestmark = [pytest.mark.slow, needs_sandbox]

STUBBORN = (
    "    import time\n    while True:\n        try:\n            time.sleep(0.05)\n"
    "        except BaseException:\n            pass"
)
HONEST_POOL = """\
import multiprocessing, time
import numpy as np
block = np.ones(500 * 2**17)            # 500 MiB, shared copy-on-write with the pool's 4 workers
with multiprocessing.get_context("fork").Pool(4) as pool:
    pool.map(time.sleep, [3] * 4)       # 5 x 500 MiB resident in total, 500 MiB used
"""
GREEDY_CHILDREN = """\
    import subprocess, sys
    code = "import numpy as np, time; x = np.ones(50 * 2**20); time.sleep(60)"   # 400 MiB each
    children = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(4)]
    [child.wait() for child in children]
"""
#: Three sleepers that try to outlive the kernel; each carries MARKER in its command line, so the
#: test finds any survivor on the host, and the learner's function passes only if all three started.
ESCAPE = """\
import os, subprocess, sys, time
sleeper = "import time; time.sleep(600)  # " + MARKER
subprocess.Popen([sys.executable, "-c", sleeper], start_new_session=True)                # setsid
subprocess.Popen([sys.executable, "-c", sleeper], process_group=0)                      # new group
if os.fork() == 0:                                                                       # double fork
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", sleeper])
    os._exit(0)
time.sleep(3)
STARTED = sum(MARKER in open(f"/proc/{pid}/cmdline").read() for pid in os.listdir("/proc") if pid.isdigit())
"""
ESCAPE_SIZE = "    assert STARTED == 3, STARTED\n" + RIGHT_SIZE


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    course = TinyCourse(root)
    marker = f"course-escape-{root.name}"
    made = {
        "endless": course.make("endless", size="    while True:\n        pass"),
        "stubborn": course.make("stubborn", size=STUBBORN),
        "bomb": course.make("bomb", size="    block = bytearray(8 * 2**30)\n" + RIGHT_SIZE),
        "honest_pool": course.make("honest_pool", extra=[HONEST_POOL]),
        "greedy_children": course.make("greedy_children", size=GREEDY_CHILDREN + RIGHT_SIZE),
        "escape": course.make("escape", size=ESCAPE_SIZE, extra=[f"MARKER = {marker!r}\n" + ESCAPE]),
    }
    patch = pytest.MonkeyPatch()
    patch.setattr(kernels, "INTERRUPT_GRACE", 3)
    try:
        results = grade_all(course.read(made.values()), Limits(cell_seconds=20, memory_mib=1200), jobs=2, watch=None)
    finally:
        patch.undo()
    print("\n" + format_table(results))
    return dict(zip(made, results)), marker, course


def test_an_endless_cell_is_interrupted_and_grading_goes_on(graded):
    result = graded[0]["endless"]
    assert statuses(result) == {"conv_output_size": ("error", 0.0), "conv_param_count": ("passed", 2.0)}
    assert result.exercises["conv_output_size"].message.endswith("timed out after 20 s (the cell was interrupted)")


def test_a_kernel_that_ignores_the_interrupt_is_replaced(graded):
    result = graded[0]["stubborn"]
    assert statuses(result) == {"conv_output_size": ("error", 0.0), "conv_param_count": ("passed", 2.0)}
    assert "ignored the interrupt (the kernel was replaced)" in result.exercises["conv_output_size"].message


def test_a_memory_bomb_fails_in_the_kernel_which_goes_on(graded):
    """RLIMIT_DATA: the allocation raises MemoryError inside the learner's function."""
    result = graded[0]["bomb"]
    assert statuses(result) == {"conv_output_size": ("error", 0.0), "conv_param_count": ("passed", 2.0)}
    assert "MemoryError" in result.exercises["conv_output_size"].message


def test_an_honest_fork_pool_is_not_killed_for_shared_pages(graded):
    """Five processes each show 500 MiB resident (2.5 GiB summed, over the 1200 MiB limit); they
    share those pages, and the proportional set size counts them once."""
    result = graded[0]["honest_pool"]
    assert statuses(result) == {"conv_output_size": ("passed", 1.0), "conv_param_count": ("passed", 2.0)}
    assert 500 < result.peak_memory_mib < 1200


def test_children_that_together_pass_the_memory_limit_are_stopped(graded):
    result = graded[0]["greedy_children"]
    assert result.exercises["conv_param_count"].status == "passed"
    stopped = "the kernel used more than the memory limit of 1200 MiB and was stopped"
    assert stopped in result.exercises["conv_output_size"].message
    assert result.peak_memory_mib > 1200


def test_processes_in_a_new_session_or_group_end_with_their_submission(graded):
    """setsid, a new process group, a double fork: all three started (the learner's function checks),
    and none is left on this machine once grading is over (the sandbox's PID namespace ended)."""
    result, marker = graded[0]["escape"], graded[1]
    assert statuses(result) == {"conv_output_size": ("passed", 1.0), "conv_param_count": ("passed", 2.0)}
    assert survivors(marker) == []


def test_the_notebook_time_limit_stops_grading_and_says_so(tmp_path):
    course = TinyCourse(tmp_path)
    slow = course.make("slow", size="    import time\n    time.sleep(60)")
    [result] = grade_all(course.read([slow]), Limits(cell_seconds=60, notebook_seconds=15), watch=None)
    assert statuses(result) == {"conv_output_size": ("error", 0.0), "conv_param_count": ("error", 0.0)}
    assert "time limit" in result.exercises["conv_param_count"].message and result.seconds < 40


def test_the_cpu_time_limit_stops_a_busy_kernel(tmp_path):
    course = TinyCourse(tmp_path)
    busy = course.make("busy", size="    while True:\n        n += 1")
    [result] = grade_all(course.read([busy]), Limits(cell_seconds=120, cpu_seconds=12), watch=None)
    assert statuses(result) == {"conv_output_size": ("error", 0.0), "conv_param_count": ("passed", 2.0)}
    assert "the kernel reached the CPU-time limit of 12 s" in result.exercises["conv_output_size"].message
