"""utils.course.grading without kernels: solution notebooks, matching, the notebook the grader runs,
the answer-key search, the kernel's environment and launcher, reports, feedback, shards, the CLI's
refusals. The tests that start kernels are in test_course_grade_{verdicts,limits,scale}.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import psutil
import pytest

from test_course_grade_helpers import PARAMS, SETUP, SIZE, SIZE_CHECK, TinyCourse
from utils import config, errors
from utils.course import student
from utils.course.grading import (
    Assignment,
    ExerciseResult,
    Limits,
    NotebookResult,
    ResultStore,
    Solutions,
    answer_key_uses,
    cli,
    feedback_page,
    format_table,
    gradebook_rows,
    gradescope,
    kernel,
    merge,
    plan_cells,
    reports,
    runner,
    select_shard,
    to_json,
    write_gradebook,
)
from utils.course.grading.plan import OBSERVATION_MIME, observe_source
from utils.course.grading.text import clean_text

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None

NOTEBOOKS = sorted((config.REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))


@pytest.fixture
def course(tmp_path):
    return TinyCourse(tmp_path)


# --- solution notebooks ---------------------------------------------------------------------------


def test_an_assignment_knows_its_exercises_points_and_check_cells(course):
    assignment = course.solutions.assignment("06_tiny")
    assert [(e.name, e.points) for e in assignment.exercises] == [("conv_output_size", 1.0), ("conv_param_count", 2.0)]
    assert [(check.index, check.exercise, check.calls) for check in assignment.checks] == [
        (3, "conv_output_size", ("conv_output_size",)),
        (5, "conv_param_count", ("conv_param_count", "conv_param_count")),
    ]  # the visible call, the hidden one
    assert "HIDDEN" in assignment.checks[1].source and "HIDDEN" not in assignment.checks[1].student_source
    assert len(assignment.digest) == 64 and assignment.max_score == 3.0


@pytest.mark.parametrize(
    "sources, message",
    [
        ((SIZE + "\nchecks.check_conv_output_size(conv_output_size)",), "holds a solution region and checks"),
        ((SIZE_CHECK, SIZE), "comes before every exercise"),
        ((SIZE, SIZE_CHECK, PARAMS), "exercise `conv_param_count` has no check cell"),
        ((SIZE, "for _ in range(2):\n    checks.check_conv_output_size(conv_output_size)"), "statement of its own"),
    ],
)
def test_a_solution_notebook_the_grader_cannot_use_is_an_error(sources, message):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    with pytest.raises(errors.NotebookFormatError, match=message):
        Assignment.from_notebook(notebook, "x", Path("x.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_course_notebook_can_be_graded(path):
    """Each exercise has a check cell whose calls the grader can turn into observe calls."""
    solutions = Solutions(path.parent)
    assignment = solutions.assignment(path.stem)
    names = [exercise.name for exercise in assignment.exercises]
    assert names and {check.exercise for check in assignment.checks} == set(names)
    for check in assignment.checks:
        source, observations = observe_source(check, seed=1)
        compile(source.replace("# NBVAL_CHECK_OUTPUT", ""), "check", "exec")
        assert [exercise for exercise, _ in observations] == list(check.calls)
    student_notebook = student.make_student_notebook(student.read_notebook(path), path.stem)
    assert solutions.match(student_notebook, "any-name.ipynb").notebook_id == path.stem


# --- matching and reading submissions -------------------------------------------------------------


def test_submissions_are_matched_by_their_metadata_not_their_file_name(course):
    renamed = course.make("alice_final_v3")
    [submission] = course.read([renamed])
    assert submission.assignment.notebook_id == "06_tiny" and submission.student == "alice_final_v3"
    assert submission.digest == hashlib.sha256(renamed.read_bytes()).hexdigest()
    solution = student.read_notebook(course.solution_path)  # no course id: matched by cell ids
    assert course.solutions.match(solution, course.solution_path).notebook_id == "06_tiny"
    stranger = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    with pytest.raises(errors.UsageError, match="no matching solution notebook"):
        course.solutions.match(stranger, "stranger.ipynb")


def test_a_submission_that_is_a_link_is_refused_before_any_kernel(course, tmp_path):
    """A link to the solution notebook would be graded as the learner's work (full marks)."""
    (tmp_path / "submissions").mkdir()
    os.symlink(course.solution_path, tmp_path / "submissions" / "mallory.ipynb")
    with pytest.raises(errors.UsageError, match="symbolic link"):
        course.read([tmp_path / "submissions" / "mallory.ipynb"])
    assert cli.main([str(tmp_path / "submissions"), "--solutions", str(tmp_path / "solutions")]) == 2


def test_what_is_graded_is_the_file_that_was_checked(course):
    """Submissions are checked up front and loaded at their turn: a file rewritten in between (by
    anything: with a sandbox no kernel can reach it) is refused, never graded as someone's work."""
    path = course.make("bob")
    [submission] = course.read([path])
    assert submission.load().cells[2].source.startswith("def conv_output")
    path.write_text(path.read_text().replace("return (n + 2 * p - f) // s + 1", "return 0"))
    with pytest.raises(errors.UsageError, match="changed on disk after grading began"):
        submission.load()
    path.unlink()
    os.symlink(course.solution_path, path)  # swapped for a link to the solution
    with pytest.raises(errors.UsageError, match="symbolic link"):
        submission.load()


# --- the notebook the grader runs ---------------------------------------------------------------


def test_check_cells_become_observe_calls_with_the_secret_seed_and_a_token(course):
    assignment = course.solutions.assignment("06_tiny")
    plan = plan_cells(course.notebook(), assignment, seed=4242, token=iter(["T1", "T2", "T3"]).__next__)
    assert [(cell.kind, cell.exercise) for cell in plan] == [
        ("grader", None),
        ("learner", None),
        ("learner", "conv_output_size"),
        ("check", "conv_output_size"),
        ("learner", "conv_param_count"),
        ("check", "conv_param_count"),
    ]
    assert "install_spies('conv_output_size', 'conv_param_count')" in plan[0].source  # before any learner cell
    check = plan[5]
    assert check.observations == (("conv_param_count", "T2"), ("conv_param_count", "T3"))  # visible, hidden
    assert check.source.count("observe('conv_param_count', conv_param_count, seed=4242).to_json()") == 2
    assert OBSERVATION_MIME in check.source and "'token': 'T2'" in check.source and "'token': 'T3'" in check.source
    assert "one weight and one bias" not in check.source and "HIDDEN" not in check.source  # never sent
    assert "checks.check_" not in check.source


def test_the_plan_runs_the_solutions_check_cells_wherever_the_learner_left_them(course):
    def tamper(notebook):
        notebook.cells[3].source = "print('checks? what checks?')"  # edited check cell
        del notebook.cells[5]  # deleted check cell
        notebook.cells.append(nbformat.v4.new_code_cell("my_extra = 1"))
        for cell in notebook.cells:  # a tool that dropped metadata
            cell.metadata.pop("course", None)

    plan = plan_cells(course.notebook(edit=tamper), course.solutions.assignment("06_tiny"), seed=1)
    assert [(cell.kind, cell.exercise) for cell in plan] == [
        ("grader", None),
        ("learner", None),
        ("learner", "conv_output_size"),
        ("check", "conv_output_size"),
        ("learner", "conv_param_count"),
        ("check", "conv_param_count"),
        ("learner", None),
    ]
    assert "what checks" not in plan[3].source and plan[5].position is None and plan[6].source == "my_extra = 1"
    assert [cell.changed for cell in plan if cell.kind == "learner"] == [False, True, True, True]


def test_observe_source_keeps_arguments_keywords_and_unicode(course):
    from utils.course.grading.assignment import CheckCell

    cell = CheckCell(
        "k",
        3,
        "train_step",
        "# NBVAL_CHECK_OUTPUT\nnote = 'é'; checks.check_train_step(train_step, image,\n"
        "    layers, alpha=ALPHA, **extra);",
        "",
        ("train_step",),
    )
    source, _ = observe_source(cell, 9, token=lambda: "T")
    assert source.startswith("# NBVAL_CHECK_OUTPUT\nnote = 'é'; __import__('IPython.display'")
    assert "observe('train_step', train_step, image, layers, alpha=ALPHA, **extra, seed=9)" in source
    assert source.endswith(");") and source.count("\n") == 1


# --- the answer key in the learner's own code -----------------------------------------------------

KEYS = {
    "conv_output_size": ("utils.convnets.arithmetic.conv_output_length", "utils.convnets.arithmetic.conv_output_shape"),
    "conv_param_count": ("utils.convnets.arithmetic.conv_param_count",),
}


@pytest.mark.parametrize(
    "code, found",
    [
        ("    return arithmetic.conv_output_length(n, f, stride=s, padding=p)", "conv_output_length"),
        (
            "    from utils.convnets.arithmetic import conv_output_length as c\n    return c(n, f, stride=s, padding=p)",
            "conv_output_length",
        ),
        (
            "    import utils.convnets.arithmetic\n    return utils.convnets.arithmetic.conv_output_length(n, f)",
            "conv_output_length",
        ),
        ("    return getattr(arithmetic, 'conv_output_length')(n, f)", "conv_output_length"),
        (
            "    import importlib\n    return importlib.import_module('utils.convnets.arithmetic').conv_output_length(n, f)",
            "imports `utils.convnets.arithmetic`",
        ),
        (
            "    from utils import convnets\n    return convnets.arithmetic.conv_output_length(n, f)",
            "conv_output_length",
        ),
        ("    return (n + 2 * p - f) // s + 1", None),
    ],
)
def test_uses_of_the_answer_key_are_found_in_the_learners_cells(course, code, found):
    plan = plan_cells(course.notebook(size=code), course.solutions.assignment("06_tiny"), seed=1)
    uses = [use for use in answer_key_uses(plan, KEYS) if use.exercise == "conv_output_size"]
    if found is None:
        assert uses == []
    else:
        assert len(uses) >= 1 and found in uses[0].message()
        assert uses[0].message().startswith("Exercise `conv_output_size` ")


def test_the_courses_own_cells_that_use_the_library_do_not_count(course):
    """The setup cell imports `arithmetic` and a demonstration cell calls it: released, unchanged."""

    def demo(notebook):
        notebook.cells.insert(6, nbformat.v4.new_code_cell("print(arithmetic.conv_param_count(5, 1, 16, rank=1))"))
        notebook.cells[6].metadata["course"] = {"cell": "demo"}

    assignment = course.solutions.assignment("06_tiny")
    assignment.released["demo"] = "print(arithmetic.conv_param_count(5, 1, 16, rank=1))"
    assert answer_key_uses(plan_cells(course.notebook(edit=demo), assignment, seed=1), KEYS) == []
    assert SETUP.startswith("from utils import checks")


# --- the kernel's environment, launcher and limits -------------------------------------------------


def test_the_kernel_environment_keeps_only_whitelisted_variables_and_private_folders():
    from utils.course.grading.sandbox import KernelPaths

    env = kernel.kernel_environment(
        KernelPaths.below(Path("/home/learner")),
        Limits(fast=False),
        {
            "PATH": "/usr/bin",
            "AWS_SECRET_ACCESS_KEY": "x",
            "GITHUB_TOKEN": "y",
            "COURSE_SHARED": "/data",
            "HOME": "/home/teacher",
            "KERAS_HOME": "/home/teacher/.keras",
            "PYTHONSTARTUP": "/home/teacher/evil.py",
        },
    )
    assert env["PATH"] == "/usr/bin" and env["COURSE_SHARED"] == "/data" and env["COURSE_FAST"] == "0"
    for name, folder in (
        ("HOME", ""),
        ("TMPDIR", "tmp"),
        ("IPYTHONDIR", ".ipython"),
        ("KERAS_HOME", ".keras"),
        ("MPLCONFIGDIR", ".config/matplotlib"),
        ("XDG_CACHE_HOME", ".cache"),
        (config.OUTPUTS_ENV_VAR, "outputs"),
    ):
        assert env[name] == str(Path("/home/learner") / folder)
    assert not {"AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "PYTHONSTARTUP"} & set(env)


def test_the_grader_reexecutes_with_a_clean_environment_and_a_private_bytecode_folder(tmp_path):
    from utils.course.grading import environment

    env = environment.clean_environment(
        {
            "PATH": "/bin",
            "HOME": "/home/t",
            "GRADER_SECRET_TOKEN": "s3",
            "LD_PRELOAD": "x",
            "PYTHONPATH": "/extra",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        bytecode=tmp_path / "pyc",
    )
    assert set(env) == {"PATH", "HOME", "PYTHONPATH", "PYTHONPYCACHEPREFIX", "COURSE_GRADER_CLEAN"}
    assert env["PYTHONPATH"] == os.pathsep.join([str(config.REPO_ROOT), "/extra"])
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pyc")
    folder = environment.private_bytecode_folder({"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert folder == tmp_path / "cache" / "course-grader" / "pycache" and folder.stat().st_mode & 0o777 == 0o700
    os.chmod(folder, 0o777)  # someone else could plant bytecode there: not used
    assert environment.private_bytecode_folder({"XDG_CACHE_HOME": str(tmp_path / "cache")}) != folder
    shown = subprocess.run(
        [sys.executable, "-m", "utils.grade", "--help"],
        cwd=config.REPO_ROOT,
        text=True,
        capture_output=True,
        env={**os.environ, "GRADER_SECRET_TOKEN": "s3"},
    )
    assert shown.returncode == 0 and "--shard" in shown.stdout and "--no-sandbox" in shown.stdout


@pytest.mark.skipif(resource is None, reason="POSIX resource limits")
def test_the_launcher_sets_the_limits_and_becomes_a_subreaper_before_the_kernel_starts(tmp_path):
    show = (
        "import os, resource as r, ctypes, sys\n"
        "print([r.getrlimit(k) for k in (r.RLIMIT_DATA, r.RLIMIT_CPU, r.RLIMIT_FSIZE, r.RLIMIT_CORE)])\n"
        "value = ctypes.c_int(0)\n"
        "if sys.platform.startswith('linux'):\n"
        "    ctypes.CDLL(None).prctl(37, ctypes.byref(value), 0, 0, 0)\n"  # PR_GET_CHILD_SUBREAPER of the parent
        "print(os.getppid() != 1)"
    )
    output = subprocess.run(
        [sys.executable, "-I", "-c", kernel.LAUNCHER, str(300 * 2**20), "50", str(2**20), sys.executable, "-c", show],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    hard_data = resource.getrlimit(resource.RLIMIT_DATA)[1]
    expected_data = 300 * 2**20 if hard_data == resource.RLIM_INFINITY else min(300 * 2**20, hard_data)
    assert output.stdout.splitlines() == [
        str([(expected_data, expected_data), (50, 55), (2**20, 2**20), (0, 0)]),
        "True",
    ]


def test_the_launcher_passes_on_the_kernels_exit_and_kills_what_it_left(tmp_path):
    """The kernel double-forks a sleeper into a new session, then exits 3: the launcher exits 3
    and the sleeper is gone (it was re-parented to the launcher, the subreaper, and killed)."""
    pid_file = tmp_path / "pid"
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(1); os._exit(3)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", kernel.LAUNCHER, str(2**30), "100", str(2**30), sys.executable, "-c", code],
        timeout=30,
    )
    assert result.returncode == 3
    pid = int(pid_file.read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_the_cpu_limit_defaults_to_the_notebook_limit_on_every_usable_core():
    assert Limits(notebook_seconds=100).cpu_limit() == 100 * kernel.usable_cores() + 60
    assert Limits(cpu_seconds=7).cpu_limit() == 7


def test_this_platform_can_enforce_the_limits_or_refuses_in_one_line(monkeypatch):
    kernel.check_platform()  # Linux: psutil reports USS, resource exists
    monkeypatch.setattr(kernel, "resource", None)
    with pytest.raises(errors.UsageError, match="POSIX process control"):
        kernel.check_platform()


# --- text from the kernel -------------------------------------------------------------------------


def test_control_characters_never_reach_the_table():
    forged = "Exercise `f`: wrong\x1b[1A\x1b[2K\r  f  passed  1 / 1\u202e" + "x" * 10_000
    result = NotebookResult("a.ipynb", "06_x", {"f": ExerciseResult("failed", 0.0, 1.0, clean_text(forged))})
    table = format_table([result])
    assert "\x1b" not in table and "\r" not in table and "\u202e" not in table
    assert len(result.exercises["f"].message) <= 4000


# --- reports --------------------------------------------------------------------------------------


def _result(path, notebook, **exercises):
    return NotebookResult(
        path,
        notebook,
        {
            name: ExerciseResult(status, points, top, message)
            for name, (status, points, top, message) in exercises.items()
        },
    )


def test_json_table_and_gradebook(tmp_path):
    results = [
        _result("alice.ipynb", "06_tiny", a=("passed", 2.0, 2.0, ""), b=("failed", 0.0, 1.0, "b(5)\nmore")),
        _result("bob.ipynb", "06_tiny", a=("error", 0.0, 2.0, "timed out"), b=("passed", 1.0, 1.0, "")),
    ]
    document = to_json(results)
    assert document["notebooks"][0]["score"] == 2.0 and document["notebooks"][0]["max_score"] == 3.0
    assert document["notebooks"][0]["exercises"]["b"] == {
        "status": "failed",
        "points": 0.0,
        "max_points": 1.0,
        "message": "b(5)\nmore",
    }
    assert format_table(results).splitlines()[:3] == [
        "alice.ipynb  (06_tiny)  2 / 3 points",
        "  a  passed  2 / 2",
        "  b  failed  0 / 1  b(5)",
    ]
    write_gradebook(tmp_path / "book.csv", results)
    assert (tmp_path / "book.csv").read_text() == (
        "student,submission,notebook,score,max_score,a,b\n"
        "alice,alice.ipynb,06_tiny,2,3,2,0\nbob,bob.ipynb,06_tiny,1,3,0,1\n"
    )
    mixed = results[:1] + [_result("carol.ipynb", "06_x", conv=("passed", 1.0, 1.0, ""))]
    assert gradebook_rows(mixed)[0] == [
        "student",
        "submission",
        "notebook",
        "score",
        "max_score",
        "06_tiny/a",
        "06_tiny/b",
        "06_x/conv",
    ]


def test_results_are_saved_resumed_only_for_the_same_bytes_and_merged(tmp_path):
    store = ResultStore(tmp_path / "shard0")
    first = _result("s/alice.ipynb", "06_tiny", a=("passed", 1.0, 1.0, ""))
    first.digest, first.solution_digest = "d1", "s1"
    store.save(first)
    assert store.load("s/alice.ipynb", "d1", "s1").exercises == first.exercises
    assert store.load("s/alice.ipynb", "d2", "s1") is None and store.load("s/alice.ipynb", "d1", "s2") is None
    second = _result("s/bob.ipynb", "06_tiny", a=("failed", 0.0, 1.0, "no"))
    ResultStore(tmp_path / "shard1").save(second)
    assert [result.path for result in merge([tmp_path / "shard1", tmp_path / "shard0"])] == [
        "s/alice.ipynb",
        "s/bob.ipynb",
    ]
    forged = json.loads(store.path_for("s/alice.ipynb").read_text())
    forged["exercises"]["a"]["status"] = "excellent"
    store.path_for("s/alice.ipynb").write_text(json.dumps(forged))
    with pytest.raises(errors.UsageError, match="not a grading result"):
        merge([tmp_path / "shard0"])


def test_shards_split_the_class_deterministically_and_cover_it_once():
    items = [f"s{number:03}" for number in range(50)]
    shards = [select_shard(items, (index, 4)) for index in range(4)]
    assert sorted(sum(shards, [])) == items and select_shard(items, (1, 4)) == shards[1]
    assert [len(shard) for shard in shards] == [13, 13, 12, 12]


def test_the_feedback_page_holds_the_learners_code_and_no_solution_or_hidden_check(course):
    notebook = course.notebook(size="    return n - f + 1  # my try")
    plan = plan_cells(notebook, course.solutions.assignment("06_tiny"), seed=1)
    result = _result(
        "alice.ipynb",
        "06_tiny",
        conv_output_size=("failed", 0.0, 1.0, "wrong <result>"),
        conv_param_count=("passed", 2.0, 2.0, ""),
    )
    result.code = runner.learner_code(plan)
    page = feedback_page(result)
    assert "return n - f + 1  # my try" in page and "wrong &lt;result&gt;" in page and "2 / 3 points" in page
    assert "(n + 2 * p - f) // s + 1" not in page  # the solution
    assert "one weight and one bias" not in page and "HIDDEN" not in page  # the hidden check
    assert "<script" not in page and "http" not in page  # self-contained


# --- Gradescope -----------------------------------------------------------------------------------


def test_gradescope_results_document_has_the_documented_fields():
    result = _result("a.ipynb", "06_tiny", a=("passed", 2.0, 2.0, ""), b=("failed", 0.0, 1.0, "hint"))
    document = gradescope.results_document(result, 12.34)
    assert document["score"] == 2.0 and document["execution_time"] == 12.3
    assert [
        (test["name"], test["score"], test["max_score"], test["status"], test["visibility"])
        for test in document["tests"]
    ] == [("06_tiny: a", 2.0, 2.0, "passed", "visible"), ("06_tiny: b", 0.0, 1.0, "failed", "visible")]
    assert document["tests"][1]["output"] == "failed. hint"
    broken = gradescope.results_document(None, 1.0, "not a notebook")
    assert broken["score"] == 0.0 and broken["tests"] == [] and broken["output"] == "not a notebook"


def test_the_gradescope_bundle_holds_the_scripts_the_library_and_the_solutions(course, tmp_path):
    assert (
        cli.main(
            ["gradescope", str(tmp_path / "auto.zip"), "--solutions", str(tmp_path / "solutions"), "--timeout", "60"]
        )
        == 0
    )
    with zipfile.ZipFile(tmp_path / "auto.zip") as bundle:
        names = set(bundle.namelist())
        run_autograder = bundle.read("run_autograder").decode()
        mode = bundle.getinfo("run_autograder").external_attr >> 16
        shipped = bundle.read("solutions/06_tiny.ipynb").decode()
    assert {
        "setup.sh",
        "run_autograder",
        "requirements.txt",
        "utils/grade.py",
        "solutions/06_tiny.ipynb",
        "utils/course/grading/runner.py",
        "utils/course/grading/sandbox.py",
    } <= names
    assert not any("__pycache__" in name for name in names) and mode & 0o111
    assert "gradescope-run" in run_autograder and "--timeout 60" in run_autograder
    assert "--sandbox bubblewrap" in run_autograder and 'chmod -R go-rwx "$ROOT/source/solutions"' in run_autograder
    # Only what the grader needs: exercises, points, check cells (hidden ones too), never a solution.
    assert "(n + 2 * p - f) // s + 1" not in shipped and "(f ** rank * c_in + 1) * c_out" not in shipped
    assert "BEGIN SOLUTION (points=2)" in shipped and "HIDDEN" in shipped


# --- the command line: unusable input never starts a kernel ---------------------------------------


@pytest.mark.parametrize(
    "case, message",
    [
        ("text_file", "not a notebook (empty or not JSON)"),
        ("missing", "no such file or folder"),
        ("empty_folder", "holds no *.ipynb submission"),
        ("no_solution", "no matching solution notebook"),
        ("json_over_submission", "is also an input"),
        ("csv_is_a_folder", "is a folder"),
        ("resume_without_folder", "--resume needs a results folder"),
    ],
)
def test_unusable_input_exits_2_with_one_line(course, capsys, case, message):
    good = course.make("good")
    arguments = [str(good)]
    if case == "text_file":
        (course.root / "essay.ipynb").write_text("Dear teacher, ...")
        arguments.append(str(course.root / "essay.ipynb"))
    elif case == "missing":
        arguments.append(str(course.root / "missing.ipynb"))
    elif case == "empty_folder":
        (course.root / "nothing").mkdir()
        arguments.append(str(course.root / "nothing"))
    elif case == "no_solution":
        stranger = course.root / "stranger.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), stranger)
        arguments.append(str(stranger))
    elif case == "json_over_submission":
        arguments += ["--json", str(good)]
    elif case == "csv_is_a_folder":
        arguments += ["--csv", str(course.root)]
    else:
        arguments += ["--resume"]
    before = good.read_bytes()
    assert cli.main(arguments + ["--solutions", str(course.root / "solutions")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1 and message in captured.err
    assert good.read_bytes() == before


def test_runs_as_a_module_with_its_subcommands():
    for arguments, expected in (
        (["--help"], "--shard"),
        (["merge", "--help"], "RESULTS_DIR"),
        (["gradescope", "--help"], "OUT.zip"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "utils.grade", *arguments], capture_output=True, text=True, cwd=config.REPO_ROOT
        )
        assert result.returncode == 0 and expected in result.stdout


def test_reports_module_writes_feedback_files_named_like_results(tmp_path):
    result = _result("sub/alice.ipynb", "06_tiny", a=("passed", 1.0, 1.0, ""))
    path = reports.write_feedback(tmp_path, result)
    assert path.name == reports.result_name("sub/alice.ipynb").replace(
        ".json", ".html"
    ) and path.read_text().startswith("<!DOCTYPE html>")
