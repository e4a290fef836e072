"""Grading a class: the command line in a clean environment, nothing lost when the grader is killed,
shards joined by ``merge``, the course library watched, and the Gradescope autograder run against a
temporary root laid out like Gradescope's.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import psutil
import pytest

from test_course_grade_helpers import RIGHT_SIZE, TinyCourse, needs_sandbox, start_grader, unpack_gradescope_bundle
from utils import config, errors
from utils.course import student
from utils.course.grading import NoSandbox, Solutions, cli, format_table, grade_all, read_submissions
from utils.course.grading.kernel import Limits

pytestmark = [pytest.mark.slow, needs_sandbox]

#: The learner's function gives the right answer only if no ancestor of its kernel (the launcher,
#: the grader) holds the grader's secret in its environment.
LEAK_CHECK = (
    """\
    import os, psutil
    text = open(f"/proc/{os.getppid()}/environ", "rb").read().decode(errors="replace")
    process = psutil.Process()
    while process is not None:
        try:
            text += " ".join(process.environ())
        except psutil.Error:
            pass
        process = process.parent()
    if "GRADER_SECRET_TOKEN" in text or "s3cret-value" in text:
        return -1
"""
    + RIGHT_SIZE
)


def _processes_under(folder):
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(str(folder) in part for part in process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            pass
    return found


def test_a_killed_run_loses_nothing_graded_and_resumes_in_a_clean_environment(tmp_path):
    """The command line re-executes itself with a clean environment: no ancestor of a kernel holds
    the grader's secret. Killed after its first result, the grader leaves that result and no
    kernel behind; ``--resume`` grades the rest and keeps the first as it was."""
    course = TinyCourse(tmp_path)
    course.make("a_leak_check", size=LEAK_CHECK)
    course.make("b_right")
    course.make("c_stub", size=None, params=None)
    out = tmp_path / "out"
    env = {**os.environ, "GRADER_SECRET_TOKEN": "s3cret-value", "TMPDIR": str(tmp_path / "scratch")}
    (tmp_path / "scratch").mkdir()
    arguments = [
        str(tmp_path / "submissions"),
        "--solutions",
        str(tmp_path / "solutions"),
        "--jobs",
        "1",
        "--timeout",
        "60",
        "--json",
        str(out / "grades.json"),
        "--csv",
        str(out / "book.csv"),
        "--feedback",
        str(out / "feedback"),
        "--watch",
        "none",
    ]
    first = start_grader(arguments, env)
    results = out / "grades.results"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(results.glob("*.json")) and first.poll() is None:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    saved = sorted(results.glob("*.json"))
    assert len(saved) in (1, 2) and not (out / "grades.json").exists()
    before = {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in saved}
    deadline = time.monotonic() + 10
    while _processes_under(tmp_path / "scratch") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_under(tmp_path / "scratch") == []  # the launcher saw the grader die

    second = start_grader(arguments + ["--resume"], env)
    stdout, stderr = second.communicate(timeout=600)
    assert second.returncode == 0, stderr
    assert stdout.count("(06_tiny)") == 3
    for path in saved:
        assert (path.stat().st_mtime_ns, path.read_bytes()) == before[path.name]  # not graded again
    graded = {
        os.path.basename(entry["path"]): entry for entry in json.loads((out / "grades.json").read_text())["notebooks"]
    }
    assert list(graded) == ["a_leak_check.ipynb", "b_right.ipynb", "c_stub.ipynb"]
    assert [graded[name]["score"] for name in graded] == [3.0, 3.0, 0.0]
    with open(out / "book.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["student"], row["score"]) for row in rows] == [
        ("a_leak_check", "3"),
        ("b_right", "3"),
        ("c_stub", "0"),
    ]
    assert len(list((out / "feedback").glob("*.html"))) == 3


def test_shards_grade_disjoint_slices_and_merge_joins_them(tmp_path, capsys):
    course = TinyCourse(tmp_path)
    course.make("a_right")
    course.make("b_stub", size=None, params=None)
    common = [
        str(tmp_path / "submissions"),
        "--solutions",
        str(tmp_path / "solutions"),
        "--timeout",
        "60",
        "--watch",
        "none",
        "--jobs",
        "1",
    ]
    for index in (0, 1):
        assert cli.main(common + ["--shard", f"{index}/2", "--results", str(tmp_path / f"shard{index}")]) == 0
    assert [len(list((tmp_path / f"shard{index}").glob("*.json"))) for index in (0, 1)] == [1, 1]
    assert (
        cli.main(
            [
                "merge",
                str(tmp_path / "shard1"),
                str(tmp_path / "shard0"),
                "--json",
                str(tmp_path / "all.json"),
                "--csv",
                str(tmp_path / "all.csv"),
            ]
        )
        == 0
    )
    merged = json.loads((tmp_path / "all.json").read_text())["notebooks"]
    assert [(os.path.basename(entry["path"]), entry["score"]) for entry in merged] == [
        ("a_right.ipynb", 3.0),
        ("b_stub.ipynb", 0.0),
    ]
    assert "2 submissions merged from 2 results folders" in capsys.readouterr().out


def test_without_a_sandbox_a_submission_that_rewrites_the_course_library_stops_the_run(tmp_path):
    """Every kernel imports the course from disk; without a sandbox (where the library is read-only)
    a learner's code that rewrites it could make later submissions pass. The grader compares the
    watched folder after each submission and stops."""
    course = TinyCourse(tmp_path)
    library = tmp_path / "library"
    library.mkdir()
    (library / "checks.py").write_text("# the course's checks\n")
    attacker = course.make(
        "attacker",
        size=None,
        params=None,
        extra=[f"open({str(library / 'checks.py')!r}, 'a').write('PASS_EVERYTHING = True')"],
    )
    later = course.make("later", size=None, params=None)
    with pytest.raises(errors.GradingError, match="changed on disk.*checks.py.*attacker.ipynb"):
        grade_all(course.read([attacker, later]), Limits(cell_seconds=60), watch=library, sandbox=NoSandbox())


@pytest.mark.parametrize("case", ["right", "wrong", "broken"])
def test_the_gradescope_autograder_writes_results_json(tmp_path, case):
    course = TinyCourse(tmp_path / "course")
    root = unpack_gradescope_bundle(course, tmp_path)
    if case == "broken":
        (root / "submission" / "homework.ipynb").write_text("I did not manage, sorry")
    else:
        path = course.make(
            "homework",
            params=None if case == "wrong" else "    return (f ** rank * c_in + 1) * c_out",
            size="    return n - f" if case == "wrong" else RIGHT_SIZE,
        )
        (root / "submission" / "homework.ipynb").write_bytes(path.read_bytes())
    env = {**os.environ, "COURSE_GRADESCOPE_ROOT": str(root), "COURSE_GRADESCOPE_PYTHON": sys.executable}
    run = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    document = json.loads((root / "results" / "results.json").read_text())
    assert isinstance(document["score"], float) and isinstance(document["execution_time"], float)
    for test in document["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
        assert test["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
        assert 0 <= test["score"] <= test["max_score"]
    tests = {test["name"]: (test["score"], test["max_score"], test["status"]) for test in document["tests"]}
    if case == "right":
        assert document["score"] == 3.0
        assert tests == {
            "06_tiny: conv_output_size": (1.0, 1.0, "passed"),
            "06_tiny: conv_param_count": (2.0, 2.0, "passed"),
        }
    elif case == "wrong":
        assert document["score"] == 0.0
        assert tests["06_tiny: conv_output_size"] == (0.0, 1.0, "failed")
        assert "Exercise `conv_output_size`: wrong result" in document["tests"][0]["output"]
        assert document["tests"][1]["output"].startswith("not attempted")
    else:
        assert document["score"] == 0.0 and document["tests"] == []
        assert "could not be graded" in document["output"] and "not a notebook" in document["output"]


NOTEBOOKS = sorted((config.REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_course_notebook_student_version_scores_0_and_solution_full_marks(path, tmp_path):
    """Fast mode, the real course notebooks through the whole path (observe in the kernel, judge
    here with the trusted context): the untouched student version gets 0 with every exercise
    "not attempted"; the solution notebook (graded as itself) gets full marks."""
    released = tmp_path / "submitted_by_someone.ipynb"
    nbformat.write(student.make_student_notebook(student.read_notebook(path), path.stem), released)
    untouched, solved = grade_all(
        read_submissions([released, path], Solutions(path.parent)), Limits(fast=True), jobs=2, watch=None
    )
    assert untouched.score == 0 and untouched.max_score > 0
    assert {exercise.status for exercise in untouched.exercises.values()} == {"not attempted"}, format_table(
        [untouched]
    )
    assert solved.score == solved.max_score == untouched.max_score, format_table([solved])
    print(
        f"\n{path.stem}: student {untouched.seconds:.0f} s, solution {solved.seconds:.0f} s, peak "
        f"{max(untouched.peak_memory_mib, solved.peak_memory_mib):.0f} MiB"
    )
