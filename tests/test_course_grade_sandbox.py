"""The sandbox around each learner kernel (issue 30): every attack is learner code in a submission,
graded through the real grader, and each test says what the attack found.

One grading run (module fixture, two kernels at a time, the default bubblewrap sandbox) grades a
class of ``06_tiny`` submissions (tests/test_course_grade_helpers.py). Most attacks replace the cell
that defines ``conv_output_size`` by the attack and end it with ``raise RuntimeError("REPORT " +
json.dumps(FINDINGS))``: the grade's message for that exercise then carries what the attack found,
and ``conv_param_count`` (right, 2 points) shows that grading went on. The other tests run the
command line (missing bubblewrap, killing the grader twice, planted bytecode, Gradescope) or need
no kernel (sandbox commands, huge notebooks, names).

Without the sandbox (``NoSandbox``) the same attacks read the grader's memory, find and drive the
other kernel, write the checkout, reach the host's loopback, read the solution notebooks and leave
a process behind (docs/GRADING.md, "Threat model", says which test covers which claim).
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from test_course_grade_helpers import (
    RIGHT_PARAMS,
    RIGHT_SIZE,
    TinyCourse,
    needs_sandbox,
    start_grader,
    statuses,
    survivors,
    unpack_gradescope_bundle,
)
from utils import config, errors
from utils.course.grading import cli, format_table, grade_all, reports, sandbox
from utils.course.grading.assignment import MAX_CELLS, read_submissions
from utils.course.grading.kernel import Limits

MASTER = b"the sandbox corpus's fixed secret"

#: Kept in the grader's (this process's) memory: an attack that can read that memory finds it.
GRADER_MEMORY_MARKER = "grader-memory-marker-" + secrets.token_hex(12)

REPORT = '\nraise RuntimeError("REPORT " + json.dumps(FINDINGS))\n'

# --- attacks, each as the learner's cell -----------------------------------------------------------

#: List the processes it can see; open the grader's memory for reading and writing (the issue's attack
#: rewrote "failed" to "passed" there) and look for the marker the grader holds.
GRADER_MEMORY = """\
import json, os
FINDINGS = {"visible": [], "opened": [], "marker_found": False}
for pid in [int(pid) for pid in os.listdir("/proc") if pid.isdigit()]:
    try:
        FINDINGS["visible"].append(open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ")[:60].decode())
    except OSError:
        pass
try:
    with open(f"/proc/{GRADER_PID}/mem", "r+b") as memory:
        FINDINGS["opened"].append(GRADER_PID)
        for line in open(f"/proc/{GRADER_PID}/maps").read().splitlines():
            bounds, mode = line.split()[:2]
            start, end = (int(part, 16) for part in bounds.split("-"))
            if mode.startswith("rw") and end - start < 2 ** 28:
                try:
                    memory.seek(start)
                    if MARKER.encode() in memory.read(end - start):
                        FINDINGS["marker_found"] = True
                except OSError:
                    pass
except OSError:
    pass
"""

#: Look for another kernel's connection file for a while (the other job's kernel runs meanwhile),
#: then connect to it and redefine its learner's functions.
OTHER_KERNEL = """\
import glob, json, os, time
import ipykernel
FINDINGS = {"connection_files": [], "driven": [], "errors": []}
mine = os.path.realpath(ipykernel.get_connection_file())
deadline = time.time() + 8
while time.time() < deadline and not FINDINGS["connection_files"]:
    for pattern in ("/tmp/**/kernel*.json", GRADER_TMP + "/**/kernel*.json", "/home/**/kernel*.json",
                    "/run/**/kernel*.json", "/root/**/kernel*.json"):
        for path in glob.glob(pattern, recursive=True):
            if os.path.realpath(path) != mine and path not in FINDINGS["connection_files"]:
                FINDINGS["connection_files"].append(path)
    time.sleep(0.5)
for path in FINDINGS["connection_files"][:3]:
    try:
        from jupyter_client import BlockingKernelClient
        client = BlockingKernelClient()
        client.load_connection_file(path)
        client.start_channels()
        client.execute("conv_output_size = conv_param_count = lambda *args: 0")
        FINDINGS["driven"].append(path)
        client.stop_channels()
    except Exception as error:
        FINDINGS["errors"].append(repr(error)[:80])
"""

#: Write bytecode into the course library's __pycache__ folders (a harmless probe file here; the
#: command-line test below plants a real forged module into a copy of the library).
PLANT_BYTECODE = """\
import json, os, sys
FINDINGS = {"wrote": [], "seen_in_pycache": []}
for folder in (LIBRARY + "/__pycache__", LIBRARY + "/checks/__pycache__", LIBRARY + "/course/__pycache__"):
    try:
        FINDINGS["seen_in_pycache"] += os.listdir(folder)
    except OSError:
        pass
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "course_probe.cpython-311.pyc"), "wb") as handle:
            handle.write(b"planted")
        FINDINGS["wrote"].append(folder)
    except OSError:
        pass
"""

#: Files the learner must not be able to write, and the private ones it may.
WRITE_OUTSIDE = """\
import json, os, sys
FINDINGS = {"wrote": []}
for folder in (LIBRARY, REPO, sys.prefix, GRADER_TMP, GRADER_HOME, SUBMISSIONS, "/etc", "/usr", "/",
               os.environ["HOME"], os.environ["TMPDIR"], os.getcwd()):
    target = os.path.join(folder, "course_probe.txt")
    try:
        with open(target, "w") as handle:
            handle.write("probe")
        FINDINGS["wrote"].append(folder)
    except OSError:
        pass
"""

#: Everything of the host the kernel can list: notebooks (other submissions, solutions), other
#: kernels' folders, the grader's results.
SEE_OTHERS = """\
import json, os
import ipykernel
FINDINGS = {"notebooks": [], "grader_folders": [], "solutions_read": []}
mine = os.path.realpath(ipykernel.get_connection_file())          # its own socket folder's path is visible
skip = {"/proc", "/sys", "/dev", "/usr"}
for top, folders, names in os.walk("/"):
    if top in skip or top.startswith(("/proc/", "/sys/", "/usr/")) or "site-packages" in top:
        folders[:] = []
        continue
    FINDINGS["notebooks"] += [os.path.join(top, name) for name in names if name.endswith(".ipynb")][:20]
    FINDINGS["grader_folders"] += [os.path.join(top, name) for name in folders if name.startswith("course-grade-")
                                   and not mine.startswith(os.path.join(top, name) + "/")]
for path in (SOLUTION, REAL_SOLUTION):
    try:
        FINDINGS["solutions_read"].append(len(open(path).read()))
    except OSError:
        pass
"""

#: Connect to a port this test listens on, on the host's loopback, and to an outside address.
NETWORK = """\
import json, socket
FINDINGS = {"connected": [], "errors": []}
for address in (("127.0.0.1", PORT), ("1.1.1.1", 53), ("8.8.8.8", 443)):
    connection = socket.socket()
    connection.settimeout(3)
    try:
        connection.connect(address)
        FINDINGS["connected"].append(list(address))
    except OSError as error:
        FINDINGS["errors"].append(type(error).__name__)
    finally:
        connection.close()
"""

#: A helper that kills the kernel's launcher and forks at once (the new child was never seen in the
#: tree), then waits for grading to end and rewrites the gradebook and the results folder.
OUTLIVE = """\
import os, subprocess, sys, time
helper = '''
import os, signal, sys, time
os.kill(int(sys.argv[1]), signal.SIGKILL)
if os.fork() == 0:
    os.setsid()
    for _ in range(120):
        time.sleep(0.5)
        for target in TARGETS:
            try:
                open(target, "a").write("forged,3,3\\\\n")
            except OSError:
                pass
os._exit(0)
'''.replace("TARGETS", repr(TARGETS)) + "# " + MARKER
subprocess.Popen([sys.executable, "-c", helper, str(os.getppid())], start_new_session=True)
time.sleep(5)
"""

#: Kill the grader, by its process id on the host and as the kernel's ancestors (then wait, so that
#: the sandbox's end, not the next cell, stops this kernel).
KILL_GRADER = """\
import os, signal, time
for pid in (GRADER_PID, os.getppid()):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
time.sleep(5)
"""

#: Undo the kernel's own output cap, then print 100 MB, 1 MB per message (each under the 16 MiB
#: message cap): the grader's own count of the cell's output stops it.
RUNAWAY_PRINT = """\
import sys
session = get_ipython().kernel.session
session.send = type(session).send.__get__(session)
for _ in range(100):
    sys.stdout.write("y" * 1_000_000)
    sys.stdout.flush()
"""

#: A file name that a spreadsheet reads as a formula, and one that forges a passed line in the table.
FORMULA_NAME = "=2+5+cmd|' -C calc'!A0"
NEWLINE_NAME = "zz\n  conv_param_count  passed  2 \u2215 2"


def _replace_size_cell(code: str):
    def edit(notebook):
        notebook.cells[2].source = code + REPORT

    return edit


def report(result) -> dict:
    """What an attack found: the JSON after "REPORT " in its exercise's message."""
    message = result.exercises["conv_output_size"].message
    assert "REPORT " in message, message
    return json.JSONDecoder().raw_decode(message[message.index("REPORT ") + len("REPORT ") :])[0]


class Corpus:
    """The class graded once: results by name, what the test set up around it."""


def grade_corpus(root: Path, chosen_sandbox=None, include=None) -> Corpus:
    """Grade the attack class in ``root`` (``include``: only these names) and return what it did."""
    course = TinyCourse(root)
    corpus = Corpus()
    corpus.root, corpus.course = root, course
    corpus.marker = f"course-outlive-{root.name}"
    corpus.gradebook, corpus.results_folder = root / "out" / "gradebook.csv", root / "out" / "results"
    corpus.results_folder.mkdir(parents=True)
    corpus.listener = socket.create_server(("127.0.0.1", 0))
    corpus.listener.settimeout(0.1)
    accepted = []

    def accept():
        while not getattr(corpus, "closing", False):
            try:
                accepted.append(corpus.listener.accept()[0])
            except OSError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    constants = {
        "GRADER_PID": os.getpid(),
        "MARKER": GRADER_MEMORY_MARKER,
        "GRADER_TMP": str(root),
        "LIBRARY": str(config.REPO_ROOT / "utils"),
        "REPO": str(config.REPO_ROOT),
        "GRADER_HOME": str(Path.home()),
        "SUBMISSIONS": str(root / "submissions"),
        "SOLUTION": str(course.solution_path),
        "REAL_SOLUTION": str(sorted((config.REPO_ROOT / "notebooks").glob("0*.ipynb"))[0]),
        "PORT": corpus.listener.getsockname()[1],
        "TARGETS": [str(corpus.gradebook), str(corpus.results_folder / "forged.json")],
    }
    prelude = "".join(f"{name} = {value!r}\n" for name, value in constants.items())
    made = {
        "alice_right": dict(),
        "a_grader_memory": dict(edit=_replace_size_cell(prelude + GRADER_MEMORY)),
        "b_other_kernel": dict(edit=_replace_size_cell(prelude + OTHER_KERNEL)),
        "c_plant_bytecode": dict(edit=_replace_size_cell(prelude + PLANT_BYTECODE)),
        "d_write_outside": dict(edit=_replace_size_cell(prelude + WRITE_OUTSIDE)),
        "e_see_others": dict(edit=_replace_size_cell(prelude + SEE_OTHERS)),
        "f_network": dict(edit=_replace_size_cell(prelude + NETWORK)),
        "g_outlive": dict(extra=[prelude.replace(GRADER_MEMORY_MARKER, corpus.marker) + OUTLIVE]),
        "h_kill_grader": dict(extra=[prelude + KILL_GRADER]),
        "i_runaway_print": dict(
            edit=lambda notebook: setattr(
                notebook.cells[2], "source", RUNAWAY_PRINT + "def conv_output_size(n, f, p, s):\n" + RIGHT_SIZE
            )
        ),
        FORMULA_NAME: dict(),
        NEWLINE_NAME: dict(),
        "zz_victim": dict(extra=["import time\ntime.sleep(6)"]),
    }
    if include is not None:
        made = {name: options for name, options in made.items() if name in include}
    paths = [course.make(name, **options) for name, options in made.items()]
    corpus.pycache_before = sorted(str(path) for path in (config.REPO_ROOT / "utils").rglob("*.pyc"))
    held = GRADER_MEMORY_MARKER.encode() * 2  # in this process's memory while grading
    try:
        results = grade_all(
            course.read(paths),
            Limits(cell_seconds=60, memory_mib=3000),
            jobs=2,
            master=MASTER,
            watch=None,
            sandbox=chosen_sandbox,
        )
        reports.write_gradebook(corpus.gradebook, results)
        corpus.gradebook_written = corpus.gradebook.read_bytes()
        corpus.table = format_table(results)
        time.sleep(3)  # a survivor would write now
        corpus.survivors = survivors(corpus.marker)
        corpus.gradebook_after = corpus.gradebook.read_bytes()
        corpus.forged_result = (corpus.results_folder / "forged.json").exists()
    finally:
        corpus.closing = True
        acceptor.join()
        corpus.listener.close()
        for path in (config.REPO_ROOT / "utils").rglob("course_probe*"):  # only if an attack got through
            path.unlink()
        for folder in (
            config.REPO_ROOT,
            config.REPO_ROOT / "utils",
            Path(sys.prefix),
            Path.home(),
            Path("/etc"),
            Path("/usr"),
            Path("/"),
        ):
            with contextlib.suppress(OSError):
                (folder / "course_probe.txt").unlink(missing_ok=True)
    corpus.accepted = len(accepted)
    corpus.results = dict(zip(made, results))
    corpus.dumpable = ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE of this (the grader's) process
    del held
    return corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    graded = grade_corpus(tmp_path_factory.mktemp("sandbox"))
    print("\n" + graded.table)
    return graded


# --- the grader's memory and process ---------------------------------------------------------------


@pytest.mark.slow
@needs_sandbox
def test_a_kernel_cannot_see_or_open_the_graders_memory(corpus):
    """The issue's attack rewrote "failed" to "passed" through /proc/<grader>/mem. In the sandbox the
    grader is not in the kernel's PID namespace: its /proc holds only the sandbox's processes."""
    found = report(corpus.results["a_grader_memory"])
    assert os.getpid() not in found["opened"] and not found["marker_found"], found
    assert not any("pytest" in line or "utils.grade" in line for line in found["visible"]), found["visible"]
    assert len(found["visible"]) <= 6, found["visible"]
    assert statuses(corpus.results["a_grader_memory"])["conv_param_count"] == ("passed", 2.0)
    assert corpus.dumpable == 0  # and the grader itself is not dumpable (prctl)


@pytest.mark.slow
@needs_sandbox
def test_a_kernel_that_kills_the_grader_only_ends_its_own_sandbox(corpus):
    """SIGKILL to the grader's process id and to the kernel's parent (the launcher): the grader is
    not visible, the sandbox ends, its kernel is replaced without that cell, both exercises pass."""
    assert statuses(corpus.results["h_kill_grader"]) == {
        "conv_output_size": ("passed", 1.0),
        "conv_param_count": ("passed", 2.0),
    }


# --- other kernels, other submissions, solutions ---------------------------------------------------


@pytest.mark.slow
@needs_sandbox
def test_a_kernel_cannot_find_or_drive_another_kernel(corpus):
    """With --jobs 2 another kernel runs meanwhile; its connection file and Unix sockets live in a
    folder only its own sandbox and the grader reach."""
    found = report(corpus.results["b_other_kernel"])
    assert found["connection_files"] == [] and found["driven"] == [], found
    assert statuses(corpus.results["alice_right"]) == {
        "conv_output_size": ("passed", 1.0),
        "conv_param_count": ("passed", 2.0),
    }
    assert statuses(corpus.results["zz_victim"]) == {
        "conv_output_size": ("passed", 1.0),
        "conv_param_count": ("passed", 2.0),
    }


@pytest.mark.slow
@needs_sandbox
def test_nothing_of_another_submission_or_of_the_solutions_is_visible(corpus):
    found = report(corpus.results["e_see_others"])
    assert found == {"notebooks": [], "grader_folders": [], "solutions_read": []}, found


# --- files ---------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_sandbox
def test_a_kernel_writes_nowhere_but_its_own_scratch(corpus):
    """The library, the checkout, the virtual environment, the grader's folders and home, the
    submissions, /etc, /usr: read-only or absent. HOME, TMPDIR and the work folder are the
    kernel's private tmpfs."""
    found = report(corpus.results["d_write_outside"])
    assert sorted(found["wrote"]) == sorted({"/home/learner", "/home/learner/tmp", "/home/learner/work"}), found


@pytest.mark.slow
@needs_sandbox
def test_no_bytecode_can_be_planted_in_the_library(corpus):
    """A kernel sees the library read-only and its __pycache__ folders as empty read-only folders."""
    found = report(corpus.results["c_plant_bytecode"])
    assert found == {"wrote": [], "seen_in_pycache": []}, found
    assert sorted(str(path) for path in (config.REPO_ROOT / "utils").rglob("*.pyc")) == corpus.pycache_before


# --- network -------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_sandbox
def test_a_kernel_has_no_network(corpus):
    """Not the host's loopback (this test listens there), not the outside."""
    found = report(corpus.results["f_network"])
    assert found["connected"] == [] and corpus.accepted == 0, found


# --- processes that outlive grading --------------------------------------------------------------


@pytest.mark.slow
@needs_sandbox
def test_a_process_that_kills_the_launcher_and_forks_does_not_outlive_grading(corpus):
    """Killing the launcher ends the sandbox's PID namespace: the forked child dies with it, so the
    gradebook and the results folder written after grading stay as the grader wrote them."""
    assert corpus.survivors == []
    assert corpus.gradebook_after == corpus.gradebook_written and not corpus.forged_result
    assert statuses(corpus.results["g_outlive"]) == {
        "conv_output_size": ("passed", 1.0),
        "conv_param_count": ("passed", 2.0),
    }


# --- one runaway cell costs one exercise ---------------------------------------------------------


@pytest.mark.slow
@needs_sandbox
def test_a_runaway_print_costs_its_own_exercise_only(corpus):
    """The learner undid the kernel's own output cap and printed 100 MB in the cell of
    conv_output_size: the grader's limits stop that cell, a fresh sandbox re-runs the other cells,
    and the right conv_param_count keeps its 2 points."""
    result = corpus.results["i_runaway_print"]
    assert statuses(result) == {"conv_output_size": ("error", 0.0), "conv_param_count": ("passed", 2.0)}
    assert "printed more than 32 MiB (the kernel was replaced)" in result.exercises["conv_output_size"].message


# --- names from files ------------------------------------------------------------------------------


@pytest.mark.slow
@needs_sandbox
def test_file_names_cannot_inject_formulas_or_forge_table_lines(corpus):
    with open(corpus.gradebook, newline="") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    formula = next(row for name, row in rows.items() if "cmd|" in name)
    assert formula["student"] == "'" + FORMULA_NAME
    forged = next(row for name, row in rows.items() if "2 \u2215 2" in name)
    assert "\n" not in forged["student"] and forged["student"].startswith("zz conv_param_count passed")
    assert "\n" not in corpus.gradebook.read_text().strip().split("\n", 1)[0]
    assert len(corpus.gradebook.read_text().strip().split("\n")) == len(corpus.results) + 1
    lines = corpus.table.split("\n")
    assert len(lines) == 3 * len(corpus.results)  # a header and two exercises per submission
    headers = lines[::3]
    assert all("points" in line and not line.startswith(" ") for line in headers), headers


def test_two_submissions_with_the_same_student_id_are_an_error_naming_both(tmp_path, capsys):
    course = TinyCourse(tmp_path)
    first = course.make("alice", folder="section_a")
    second = course.make("alice", folder="section_b")
    with pytest.raises(errors.UsageError, match="06_tiny have the student id 'alice'.*section_a.*section_b"):
        read_submissions([first, second], course.solutions)
    assert cli.main([str(first), str(second), "--solutions", str(tmp_path / "solutions")]) == 2
    assert "section_a/alice.ipynb and " in capsys.readouterr().err
    other = reports.NotebookResult(str(second), "01_other", {})  # the same learner, another notebook: fine
    assert len(reports.gradebook_rows([reports.NotebookResult(str(first), "06_tiny", {}), other])) == 3
    with pytest.raises(errors.UsageError, match="section_a/alice.ipynb and .*section_b/alice.ipynb"):
        reports.gradebook_rows(
            [reports.NotebookResult(str(first), "06_tiny", {}), reports.NotebookResult(str(second), "06_tiny", {})]
        )  # merge: the same check


def test_a_notebook_of_900000_empty_cells_is_refused_cheaply(tmp_path):
    """57 MiB of empty cells (under the size cap) cost the grader 2 GB and 163 s; parsing now stops
    at the object limit, before nbformat ever sees the file."""
    course = TinyCourse(tmp_path)
    cell = b'{"cell_type": "raw", "metadata": {}, "source": "", "id": "c"}'
    path = tmp_path / "many.ipynb"
    path.write_bytes(
        b'{"cells": [' + b",".join([cell] * 900_000) + b'], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    assert path.stat().st_size > 50 * 2**20  # under the 64 MiB size cap
    tracemalloc.start()
    try:
        with pytest.raises(errors.NotebookFormatError, match=f"more than {MAX_CELLS:,} cells"):
            read_submissions([path], course.solutions)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 400 * 2**20, peak / 2**20  # the file's bytes and text, not 900,000 cells


# --- where no sandbox can be made ----------------------------------------------------------------


def test_without_bubblewrap_the_grader_refuses_in_one_line(tmp_path, monkeypatch, capsys):
    course = TinyCourse(tmp_path)
    path = course.make("alice")
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no bwrap on PATH
    assert cli.main([str(path), "--solutions", str(tmp_path / "solutions")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "bubblewrap (bwrap) is not installed" in error
    assert "apt install bubblewrap" in error and "--no-sandbox" in error


def test_a_bubblewrap_too_old_for_the_sandbox_is_refused_in_one_line(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho bubblewrap 0.6.1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(errors.UsageError, match=r"bubblewrap 0\.6\.1 is too old .*0\.8\.0 or newer"):
        sandbox.make_sandbox("bubblewrap")


@pytest.mark.slow
def test_with_no_sandbox_it_grades_and_says_what_is_not_contained(tmp_path, monkeypatch, capsys):
    course = TinyCourse(tmp_path)
    path = course.make("alice")
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert (
        cli.main(
            [
                str(path),
                "--solutions",
                str(tmp_path / "solutions"),
                "--no-sandbox",
                "--timeout",
                "60",
                "--watch",
                "none",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "alice.ipynb  (06_tiny)  3 / 3 points" in captured.out
    assert "NO SANDBOX" in captured.err and "network" in captured.err and "outlive grading" in captured.err


def test_bubblewrap_commands_give_each_kernel_namespaces_and_a_read_only_view(tmp_path):
    layout = sandbox.Layout(
        read_only=(Path(sys.prefix), config.REPO_ROOT / "utils"),
        writable=(tmp_path,),
        hidden=(config.REPO_ROOT / "utils" / "__pycache__",),
        scratch_mib=64,
    )
    as_user = sandbox.Bubblewrap(root=False).command(["python", "-c", "pass"], layout)
    for flag in (
        "--unshare-user",
        "--disable-userns",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--die-with-parent",
        "--new-session",
    ):
        assert flag in as_user
    assert as_user[as_user.index("--uid") + 1] == "65534"
    assert ["--ro-bind", str(config.REPO_ROOT / "utils"), str(config.REPO_ROOT / "utils")] == as_user[
        as_user.index(str(config.REPO_ROOT / "utils")) - 1 :
    ][:3]
    assert ["--bind", str(tmp_path), str(tmp_path)] == as_user[as_user.index(str(tmp_path)) - 1 :][:3]
    bound = [as_user[index + 1] for index, word in enumerate(as_user) if word in ("--ro-bind", "--bind")]
    assert str(config.REPO_ROOT) not in bound and str(config.REPO_ROOT / "notebooks") not in bound
    as_root = sandbox.Bubblewrap(root=True).command(["python"], layout)
    drop = next(index for index, word in enumerate(as_root) if word.endswith("setpriv"))
    assert as_root[drop + 1 : drop + 5] == ["--reuid", "65534", "--regid", "65534"]
    assert "--unshare-user" in as_root[drop:] and "--unshare-user" not in as_root[:drop]


@needs_sandbox
@pytest.mark.parametrize("root", [True, False], ids=["as-root", "as-a-user"])
def test_both_bubblewrap_forms_run_python_as_nobody_here(root):
    """As root: the view built with root's rights, then setpriv to 65534 and a user namespace. As a
    user: one unprivileged bubblewrap (run here by root, which maps 65534 to root: the same command)."""
    assert sandbox.Bubblewrap(root=root)._probe() == ""


@pytest.mark.slow
@needs_sandbox
def test_the_unprivileged_form_an_instructor_gets_grades_end_to_end(tmp_path):
    """The command a grader that is not root runs (one unprivileged bubblewrap), graded here by root
    (uid 65534 inside then maps to root outside: the same command, not the same host uid)."""
    course = TinyCourse(tmp_path)
    paths = [course.make("alice"), course.make("bob", size=None, params=None)]
    alice, bob = grade_all(
        course.read(paths), Limits(cell_seconds=60, memory_mib=3000), watch=None, sandbox=sandbox.Bubblewrap(root=False)
    )
    assert (alice.score, bob.score) == (3.0, 0.0)


def test_a_container_sandbox_is_built_from_the_same_layout_and_refused_without_an_engine(tmp_path, monkeypatch):
    """No container engine runs on this machine: the command is checked as text, and the refusal too."""
    layout = sandbox.Layout(read_only=(Path(sys.prefix),), writable=(tmp_path,), hidden=(), scratch_mib=256)
    command = sandbox.Container("docker", "debian:bookworm-slim", memory_mib=2048).command(["python"], layout, "k1")
    for option in (
        "--rm",
        "--name=k1",
        "--network=none",
        "--user=65534:65534",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        "--read-only",
        "--memory=2048m",
        "--pids-limit=512",
        f"--volume={sys.prefix}:{sys.prefix}:ro",
        f"--volume={tmp_path}:{tmp_path}:rw",
        "--tmpfs=/home/learner:rw,size=256m,mode=1777",
    ):
        assert option in command, option
    assert command[-1] == "python" and "debian:bookworm-slim" in command
    podman = sandbox.Container("podman", "debian:bookworm-slim").command(["python"], layout, "k1")
    assert "--userns=keep-id" in podman
    with pytest.raises(errors.UsageError, match="--container-image"):
        sandbox.make_sandbox("docker", "")
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(errors.UsageError, match="podman is not installed.*apt install bubblewrap"):
        sandbox.make_sandbox("podman", "debian:bookworm-slim")
    if shutil.which("docker", path=os.defpath + ":/usr/local/bin"):  # a client without a daemon (here)
        (tmp_path / "bin" / "docker").symlink_to(shutil.which("docker", path=os.defpath + ":/usr/local/bin"))
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=60)
        if probe.returncode != 0:
            with pytest.raises(errors.UsageError, match="`docker info` failed"):
                sandbox.make_sandbox("docker", "debian:bookworm-slim")


# --- bookkeeping: a grader killed twice during one submission ----------------------------------------


def _kill_when(process, condition, seconds=300):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition() and process.poll() is None:
        time.sleep(0.2)
    assert condition(), "the grader finished before it could be stopped"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.mark.slow
@needs_sandbox
def test_a_submission_during_which_the_grader_is_stopped_twice_is_graded_error_and_the_class_goes_on(tmp_path):
    """The grader is killed (kill -9 of its whole group) while b_stopper is in flight, then again during
    the first --resume, which grades it alone first; the second --resume grades it `error` at once and
    the rest of the class normally."""
    course = TinyCourse(tmp_path)
    course.make("a_right")
    course.make("b_stopper", extra=["import time\ntime.sleep(600)"])
    course.make("c_right")
    results = tmp_path / "results"
    arguments = [
        str(tmp_path / "submissions"),
        "--solutions",
        str(tmp_path / "solutions"),
        "--jobs",
        "1",
        "--timeout",
        "900",
        "--results",
        str(results),
        "--csv",
        str(tmp_path / "book.csv"),
        "--watch",
        "none",
    ]
    store = reports.ResultStore(results)
    stopper = str(tmp_path / "submissions" / "b_stopper.ipynb")
    marks = lambda: store._in_flight_path(stopper).read_text() if store._in_flight_path(stopper).exists() else ""
    env = {**os.environ}
    first = start_grader(arguments, env)
    _kill_when(first, lambda: '"stops": 1' in marks())
    second = start_grader(arguments + ["--resume"], env)
    _kill_when(second, lambda: '"stops": 2' in marks())
    assert not store.path_for(str(tmp_path / "submissions" / "c_right.ipynb")).exists()  # the suspect went first
    third = start_grader(arguments + ["--resume"], env)
    stdout, stderr = third.communicate(timeout=600)
    assert third.returncode == 0, stderr
    with open(tmp_path / "book.csv", newline="") as handle:
        rows = {row["student"]: row["score"] for row in csv.DictReader(handle)}
    assert rows == {"a_right": "3", "b_stopper": "0", "c_right": "3"}
    assert "the grader was stopped during this submission twice" in stdout
    assert not list(results.glob("*.inflight"))


# --- bytecode planted in the library ----------------------------------------------------------------

FORGED_CHECKS = """
def judge(*args, **kwargs):
    import types
    return types.SimpleNamespace(status="passed", message="")
"""


def _plant(library: Path) -> str:
    """Learner code that writes an unchecked-hash .pyc of utils/checks/__init__.py (its source plus a judge that
    passes everything) into the library's __pycache__; Python then loads it without looking at the source."""
    return f"""\
import importlib.util, marshal, os, sys
source = open({str(library / "checks" / "__init__.py")!r}).read() + {FORGED_CHECKS!r}
code = compile(source, {str(library / "checks" / "__init__.py")!r}, "exec")
header = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + bytes(8)   # hash-based, unchecked
folder = {str(library / "checks" / "__pycache__")!r}
try:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "__init__." + sys.implementation.cache_tag + ".pyc"), "wb") as handle:
        handle.write(header + marshal.dumps(code))
except OSError:
    pass
"""


@pytest.mark.slow
@needs_sandbox
@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
def test_bytecode_planted_in_the_library_never_grades_a_later_stub(tmp_path, sandboxed):
    """A copy of the checkout (the library only): the attacker's kernel writes a forged, unchecked
    .pyc of utils.checks; a second run grades a stub. In the sandbox the write fails (read-only
    library); without one it succeeds and the library watch, which ignores bytecode, sees nothing —
    yet the second run still gives the stub 0: the grader reads bytecode only from its private
    folder, and each sandboxed kernel sees the library's __pycache__ as an empty folder."""
    checkout = tmp_path / "checkout"
    shutil.copytree(config.REPO_ROOT / "utils", checkout / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    course = TinyCourse(tmp_path / "course")
    course.make("attacker", size=None, params=None, extra=[_plant(checkout / "utils")])
    course.make("stub", folder="later", size=None, params=None)
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    common = [
        "--solutions",
        str(tmp_path / "course" / "solutions"),
        "--timeout",
        "120",
        "--jobs",
        "1",
        "--watch",
        "none",
    ] + ([] if sandboxed else ["--no-sandbox"])
    for folder in ("submissions", "later"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "utils.grade",
                str(tmp_path / "course" / folder),
                *common,
                "--json",
                str(tmp_path / f"{folder}.json"),
            ],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    planted = list((checkout / "utils" / "checks" / "__pycache__").glob("__init__.*.pyc"))
    assert bool(planted) == (not sandboxed)
    [stub] = json.loads((tmp_path / "later.json").read_text())["notebooks"]
    assert stub["score"] == 0.0, stub


# --- Gradescope ---------------------------------------------------------------------------------------

#: Read the solution notebooks of the Gradescope layout into the learner's own feedback, and try to
#: write results.json before and after grading.
GRADESCOPE_ATTACK = """\
import glob, json, os, subprocess, sys
FINDINGS = {"read": [], "wrote": [], "uid": os.getuid()}
for path in glob.glob(ROOT + "/source/solutions/*.ipynb") + [ROOT + "/source/solutions/06_tiny.ipynb"]:
    try:
        FINDINGS["read"].append(open(path).read()[:300])
    except OSError:
        pass
for target in (ROOT + "/results/results.json", ROOT + "/results/forged.json"):
    try:
        open(target, "w").write('{"score": 100}')
        FINDINGS["wrote"].append(target)
    except OSError:
        pass
"""


@pytest.mark.slow
@needs_sandbox
def test_the_gradescope_kernel_runs_as_nobody_without_the_solutions_or_the_results(tmp_path):
    """Gradescope runs run_autograder as root (as this test does): the kernel runs as uid 65534 in
    its sandbox, sees neither /autograder/source/solutions (root-only anyway, and holding no
    solution) nor the results folder, which the grader writes after the sandbox is gone."""
    course = TinyCourse(tmp_path / "course")
    root = unpack_gradescope_bundle(course, tmp_path)
    attack = f"ROOT = {str(root)!r}\n" + GRADESCOPE_ATTACK

    def edit(notebook):
        notebook.cells[2].source = attack + REPORT

    path = course.make("homework", edit=edit, params=RIGHT_PARAMS)
    (root / "submission" / "homework.ipynb").write_bytes(path.read_bytes())
    env = {**os.environ, "COURSE_GRADESCOPE_ROOT": str(root), "COURSE_GRADESCOPE_PYTHON": sys.executable}
    run = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stderr[-2000:]
    document = json.loads((root / "results" / "results.json").read_text())
    tests = {test["name"]: test for test in document["tests"]}
    message = tests["06_tiny: conv_output_size"]["output"]
    found = json.JSONDecoder().raw_decode(message[message.index("REPORT ") + len("REPORT ") :])[0]
    assert found == {"read": [], "wrote": [], "uid": 65534}, found
    assert tests["06_tiny: conv_param_count"]["score"] == 2.0 and document["score"] == 2.0
    assert not (root / "results" / "forged.json").exists()
    assert (root / "source" / "solutions").stat().st_mode & 0o077 == 0
    assert "one weight and one bias" not in json.dumps(document)  # the hidden check's text
