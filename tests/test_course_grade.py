"""utils.course.grade, the autograder: reading solution notebooks, matching submissions, the notebook
it runs, the limits of the kernel, each status, the reports and the command line.

Most tests grade a tiny synthetic assignment (``add`` worth 2 points with a hidden check, ``sub``
worth 1) whose checks live in a small module written to ``tmp_path``, so a kernel starts in about
a second and never imports TensorFlow. The slow test at the end grades the six course notebooks.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from utils import config, errors
from utils.course import grade, student

NOTEBOOKS = sorted((config.REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))

TINY_CHECKS = '''
from utils.errors import CheckFailed, ExerciseNotImplemented


def _call(name, function, *args):
    try:
        return function(*args)
    except NotImplementedError as error:
        if "replace this line with your code" not in str(error):
            raise                                  # from a library underneath: not the stub
        raise ExerciseNotImplemented(f"Exercise `{name}` is not implemented yet") from None


def check_add(add):
    got = _call("add", add, 2, 3)
    if got != 5:
        message = f"Exercise `add`: add(2, 3) should be 5; got {got!r}.\\n  Likely mistake (a product): use +"
        print(message)
        raise CheckFailed(message)
    print("All tests passed.")


def check_sub(sub):
    got = _call("sub", sub, 5, 3)
    if got != 2:
        raise CheckFailed(f"Exercise `sub`: sub(5, 3) should be 2; got {got!r}")
    print("All tests passed.")
'''

ADD = "def add(a, b):\n    ### BEGIN SOLUTION (points=2)\n    return a + b\n    ### END SOLUTION"
ADD_CHECK = ("checks.check_add(add)\n### BEGIN HIDDEN CHECKS\nassert add(-1, 1) == 0, 'add(-1, 1) should be 0'\n"
             "### END HIDDEN CHECKS")
SUB = "def sub(a, b):\n    ### BEGIN SOLUTION\n    return a - b\n    ### END SOLUTION"
SUB_CHECK = "checks.check_sub(sub)"


@pytest.fixture
def course(tmp_path):
    """A solution folder with ``01_tiny.ipynb``, its student version, and a ``make(name, add=, sub=)``
    helper that writes a submission: the student version with correct answers unless told otherwise."""
    (tmp_path / "tinychecks.py").write_text(TINY_CHECKS)
    solution = nbformat.v4.new_notebook()
    solution.cells = [
        nbformat.v4.new_markdown_cell("# A tiny assignment"),
        nbformat.v4.new_code_cell(f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport tinychecks as checks"),
        nbformat.v4.new_code_cell(ADD), nbformat.v4.new_code_cell(ADD_CHECK),
        nbformat.v4.new_code_cell(SUB), nbformat.v4.new_code_cell(SUB_CHECK),
    ]
    (tmp_path / "solutions").mkdir()
    nbformat.write(solution, tmp_path / "solutions" / "01_tiny.ipynb")
    student.generate(tmp_path / "solutions", tmp_path / "students")
    released = nbformat.read(tmp_path / "students" / "01_tiny.ipynb", as_version=4)

    class Course:
        root = tmp_path
        solutions = grade.Solutions(tmp_path / "solutions")
        solution_path = tmp_path / "solutions" / "01_tiny.ipynb"
        student_path = tmp_path / "students" / "01_tiny.ipynb"

        @staticmethod
        def make(name, add="    return a + b", sub="    return a - b", folder="submissions", edit=None):
            """A submission with these function bodies (None keeps the stub)."""
            notebook = nbformat.reads(nbformat.writes(released), as_version=4)
            if add is not None:
                notebook.cells[2].source = "def add(a, b):\n" + add
            if sub is not None:
                notebook.cells[4].source = "def sub(a, b):\n" + sub
            if edit is not None:
                edit(notebook)
            path = tmp_path / folder / f"{name}.ipynb"
            path.parent.mkdir(exist_ok=True)
            nbformat.write(notebook, path)
            return path

    return Course


def statuses(result):
    return {name: (exercise.status, exercise.points) for name, exercise in result.exercises.items()}


# --- solution notebooks ---------------------------------------------------------------------------

def test_an_assignment_knows_its_exercises_points_and_check_cells(course):
    assignment = course.solutions.assignment("01_tiny")
    assert [(e.name, e.points) for e in assignment.exercises] == [("add", 2.0), ("sub", 1.0)]
    assert [(check.index, check.exercise) for check in assignment.checks] == [(3, "add"), (5, "sub")]
    assert "HIDDEN" in assignment.checks[0].source and assignment.checks[0].student_source == "checks.check_add(add)"


def test_hidden_checks_in_a_cell_that_calls_no_check_belong_to_the_exercise_they_name(tmp_path):
    """Notebook 02's pattern: a demonstration cell whose hidden region tests the exercise."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (
        ADD, ADD_CHECK, SUB, SUB_CHECK,
        "print(add(1, 2))\n### BEGIN HIDDEN CHECKS\nassert add(0, 0) == 0\n### END HIDDEN CHECKS",
        "### BEGIN HIDDEN CHECKS\nassert True\n### END HIDDEN CHECKS")])
    assignment = grade.Assignment.from_notebook(notebook, "x", Path("x.ipynb"))
    assert [(check.index, check.exercise) for check in assignment.checks] == [
        (1, "add"), (3, "sub"), (4, "add"), (5, "sub")]   # named -> that one; unnamed -> the latest


@pytest.mark.parametrize("sources, message", [
    ((ADD + "\ncheckers = checks.check_add(add)",), "holds a solution region and checks"),
    ((ADD_CHECK, ADD), "comes before every exercise"),
    ((ADD, ADD_CHECK, SUB), "exercise `sub` has no check cell"),
])
def test_a_solution_notebook_the_grader_cannot_use_is_an_error(sources, message):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    with pytest.raises(errors.NotebookFormatError, match=message):
        grade.Assignment.from_notebook(notebook, "x", Path("x.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_course_notebook_can_be_graded(path):
    """Each exercise of the course has a check cell; the exercise names are the README's."""
    assignment = grade.Assignment.from_notebook(student.read_notebook(path), path.stem, path)
    names = [exercise.name for exercise in assignment.exercises]
    assert names and {check.exercise for check in assignment.checks} == set(names)
    student_notebook = student.make_student_notebook(student.read_notebook(path), path.stem)
    assert grade.Solutions(path.parent).match(student_notebook, "any-name.ipynb").notebook_id == path.stem


# --- matching submissions -------------------------------------------------------------------------

def test_submissions_are_matched_by_their_metadata_not_their_file_name(course, tmp_path):
    renamed = course.make("alice_final_v3")
    assert course.solutions.match(student.read_notebook(renamed), renamed).notebook_id == "01_tiny"
    solution = student.read_notebook(course.solution_path)          # no course id: matched by cell ids
    assert course.solutions.match(solution, course.solution_path).notebook_id == "01_tiny"
    stranger = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    with pytest.raises(errors.UsageError, match="no matching solution notebook"):
        course.solutions.match(stranger, "stranger.ipynb")
    other = course.make("other", edit=lambda notebook: notebook.metadata["course"].update(notebook="09_missing"))
    with pytest.raises(errors.UsageError, match="no solution notebook '09_missing'"):
        course.solutions.match(student.read_notebook(other), other)


def test_the_plan_runs_the_solutions_check_cells_wherever_the_learner_left_them(course):
    assignment = course.solutions.assignment("01_tiny")

    def tamper(notebook):
        notebook.cells[3].source = "print('checks? what checks?')"     # edited check cell
        del notebook.cells[5]                                            # deleted check cell
        notebook.cells.append(nbformat.v4.new_code_cell("my_extra = 1"))
        for cell in notebook.cells:                                      # a tool that dropped metadata
            cell.metadata.pop("course", None)

    plan = grade.plan_cells(student.read_notebook(course.make("tampered", edit=tamper)), assignment)
    assert [(cell.kind, cell.exercise) for cell in plan] == [
        ("setup", None), ("learner", None), ("learner", "add"), ("check", "add"), ("learner", "sub"),
        ("check", "sub"), ("learner", None)]
    assert "HIDDEN CHECKS" in plan[3].source and "what checks" not in plan[3].source
    assert plan[5].position is None and plan[6].source == "my_extra = 1"


def test_check_cells_without_metadata_or_ids_are_found_by_their_source(course):
    def strip(notebook):
        notebook.nbformat_minor = 4                   # cell ids arrived with nbformat 4.5
        for cell in notebook.cells:
            cell.metadata.pop("course", None)
            cell.pop("id", None)

    plan = grade.plan_cells(student.read_notebook(course.make("bare", edit=strip)),
                            course.solutions.assignment("01_tiny"))
    assert [cell.kind for cell in plan].count("check") == 2


# --- the kernel's limits and environment ----------------------------------------------------------

def test_the_kernel_environment_keeps_only_whitelisted_variables(tmp_path):
    env = grade.kernel_environment(tmp_path, grade.Limits(fast=False), {
        "PATH": "/usr/bin", "AWS_SECRET_ACCESS_KEY": "x", "GITHUB_TOKEN": "y", "COURSE_SHARED": "/data",
        "HOME": "/home/teacher", "PYTHONSTARTUP": "/home/teacher/evil.py"})
    assert env["PATH"] == "/usr/bin" and env["COURSE_SHARED"] == "/data" and env["COURSE_FAST"] == "0"
    assert env["HOME"] == str(tmp_path / "home") and env["TMPDIR"] == str(tmp_path / "tmp")
    assert env["KERAS_HOME"] == "/home/teacher/.keras"
    assert not {"AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "PYTHONSTARTUP"} & set(env)


def test_the_launcher_sets_the_limits_before_the_kernel_starts(tmp_path):
    show = ("import resource as r; print([r.getrlimit(k) for k in "
            "(r.RLIMIT_DATA, r.RLIMIT_CPU, r.RLIMIT_FSIZE, r.RLIMIT_CORE)])")
    output = subprocess.run([sys.executable, "-I", "-c", grade._LAUNCHER, str(300 * 2 ** 20), "50", str(2 ** 20),
                             sys.executable, "-c", show], capture_output=True, text=True, check=True, cwd=tmp_path)
    hard_data = resource.getrlimit(resource.RLIMIT_DATA)[1]
    expected_data = 300 * 2 ** 20 if hard_data == resource.RLIM_INFINITY else min(300 * 2 ** 20, hard_data)
    assert output.stdout.strip() == str([(expected_data, expected_data), (50, 55), (2 ** 20, 2 ** 20), (0, 0)])


def test_the_cpu_limit_defaults_to_the_notebook_limit_on_every_usable_core():
    cores = len(os.sched_getaffinity(0))
    assert grade.Limits(notebook_seconds=100).cpu_limit() == 100 * cores + 60
    assert grade.Limits(cpu_seconds=7).cpu_limit() == 7


# --- reports --------------------------------------------------------------------------------------

def _result(path, notebook, **exercises):
    return grade.NotebookResult(path, notebook, {name: grade.ExerciseResult(status, points, top, message)
                                                 for name, (status, points, top, message) in exercises.items()})


def test_json_table_and_gradebook(tmp_path):
    results = [_result("alice.ipynb", "01_tiny", add=("passed", 2.0, 2.0, ""), sub=("failed", 0.0, 1.0, "sub(5, 3)\nmore")),
               _result("bob.ipynb", "01_tiny", add=("error", 0.0, 2.0, "timed out"), sub=("passed", 1.0, 1.0, ""))]
    document = grade.to_json(results)
    assert document["notebooks"][0]["score"] == 2.0 and document["notebooks"][0]["max_score"] == 3.0
    assert list(document["notebooks"][0]["exercises"]) == ["add", "sub"]
    assert document["notebooks"][0]["exercises"]["sub"] == {"status": "failed", "points": 0.0, "max_points": 1.0,
                                                            "message": "sub(5, 3)\nmore"}
    assert grade.format_table(results).splitlines()[:3] == [
        "alice.ipynb  (01_tiny)  2 / 3 points", "  add  passed  2 / 2", "  sub  failed  0 / 1  sub(5, 3)"]
    grade.write_gradebook(tmp_path / "book.csv", results)
    assert (tmp_path / "book.csv").read_text() == ("submission,notebook,score,max_score,add,sub\n"
                                                  "alice.ipynb,01_tiny,2,3,2,0\nbob.ipynb,01_tiny,1,3,0,1\n")
    mixed = results[:1] + [_result("carol.ipynb", "06_x", conv=("passed", 1.0, 1.0, ""))]
    assert grade.gradebook_rows(mixed) == [
        ["submission", "notebook", "score", "max_score", "01_tiny/add", "01_tiny/sub", "06_x/conv"],
        ["alice.ipynb", "01_tiny", "2", "3", "2", "0", ""], ["carol.ipynb", "06_x", "1", "1", "", "", "1"]]


# --- the command line: unusable input never starts a kernel ---------------------------------------

@pytest.mark.parametrize("case, message", [
    ("text_file", "not a notebook (empty or not JSON)"),
    ("empty_file", "not a notebook (empty or not JSON)"),
    ("missing", "no such file or folder"),
    ("empty_folder", "holds no *.ipynb submission"),
    ("no_solution", "no matching solution notebook"),
    ("json_over_submission", "is also an input"),
    ("csv_is_a_folder", "is a folder"),
])
def test_unusable_input_exits_2_with_one_line(course, capsys, case, message):
    good = course.make("good")
    arguments = [str(good)]
    if case == "text_file":
        (course.root / "essay.ipynb").write_text("Dear teacher, ...")
        arguments.append(str(course.root / "essay.ipynb"))
    elif case == "empty_file":
        (course.root / "empty.ipynb").write_text("")
        arguments.append(str(course.root / "empty.ipynb"))
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
    else:
        arguments += ["--csv", str(course.root)]
    before = good.read_bytes()
    assert grade.main(arguments + ["--solutions", str(course.root / "solutions")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1 and message in captured.err
    assert good.read_bytes() == before


def test_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "utils.grade", "--help"], capture_output=True, text=True,
                            cwd=config.REPO_ROOT)
    assert result.returncode == 0 and "--notebook-timeout" in result.stdout


# --- grading in a kernel --------------------------------------------------------------------------

def test_each_status_from_the_command_line_with_json_and_gradebook(course, capsys, monkeypatch):
    """Full marks for the solution (under any name), 0 and "not attempted" for the untouched
    student notebook, "failed" with the check's hint, a hidden check catching a visible-only
    answer, "error" naming the learner's broken cell; a learner's edits to a check cell change
    nothing; the grader's secrets never reach the kernel."""
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "s3cret")
    folder = course.root / "submissions"
    folder.mkdir()
    (folder / "alice.ipynb").write_bytes(course.solution_path.read_bytes())
    (folder / "bob.ipynb").write_bytes(course.student_path.read_bytes())
    course.make("carol", add="    return a * b", sub="    return b - a")
    course.make("dave", add="    return 5 if (a, b) == (2, 3) else 42",
                sub="    import os\n    assert 'GRADER_SECRET_TOKEN' not in os.environ, 'leaked'\n    return a - b")
    course.make("frank", add="    raise NotImplementedError('Cannot convert a symbolic tf.Tensor to a numpy array')")
    course.make("erin", add="    return a +", sub="    return b - a",
                edit=lambda nb: setattr(nb.cells[5], "source", "pass  # no check"))
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    code = grade.main([str(folder), "--solutions", str(course.root / "solutions"), "--timeout", "60",
                       "--json", str(course.root / "grades.json"), "--csv", str(course.root / "book.csv")])
    assert code == 0
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    graded = {Path(entry["path"]).name: entry for entry in json.loads((course.root / "grades.json").read_text())["notebooks"]}
    assert {name: (entry["score"], entry["max_score"]) for name, entry in graded.items()} == {
        "alice.ipynb": (3.0, 3.0), "bob.ipynb": (0.0, 3.0), "carol.ipynb": (0.0, 3.0), "dave.ipynb": (1.0, 3.0),
        "erin.ipynb": (0.0, 3.0), "frank.ipynb": (1.0, 3.0)}
    status = {name: {exercise: value["status"] for exercise, value in entry["exercises"].items()}
              for name, entry in graded.items()}
    assert status == {"alice.ipynb": {"add": "passed", "sub": "passed"},
                      "bob.ipynb": {"add": "not attempted", "sub": "not attempted"},
                      "carol.ipynb": {"add": "failed", "sub": "failed"},
                      "dave.ipynb": {"add": "failed", "sub": "passed"},
                      "erin.ipynb": {"add": "error", "sub": "failed"},
                      "frank.ipynb": {"add": "error", "sub": "passed"}}
    assert list(graded["alice.ipynb"]["exercises"]) == ["add", "sub"]
    messages = {name: {exercise: value["message"] for exercise, value in entry["exercises"].items()}
                for name, entry in graded.items()}
    assert messages["bob.ipynb"]["add"] == "Exercise `add` is not implemented yet"
    assert "Likely mistake (a product): use +" in messages["carol.ipynb"]["add"]
    assert messages["dave.ipynb"]["add"] == "add(-1, 1) should be 0"             # the hidden check
    assert messages["erin.ipynb"]["add"].startswith("the cell defining `add` raised SyntaxError")
    assert "NameError: name 'add' is not defined" in messages["erin.ipynb"]["add"]
    assert messages["erin.ipynb"]["sub"] == "Exercise `sub`: sub(5, 3) should be 2; got -2"  # check restored
    assert messages["frank.ipynb"]["add"] == (      # a NotImplementedError that is not the stub's
        "NotImplementedError: Cannot convert a symbolic tf.Tensor to a numpy array (line 2 of your cell: "
        "`raise NotImplementedError('Cannot convert a symbolic tf.Tensor to a numpy array')`)")
    assert (course.root / "book.csv").read_text().splitlines() == [
        "submission,notebook,score,max_score,add,sub",
        f"{folder / 'alice.ipynb'},01_tiny,3,3,2,1", f"{folder / 'bob.ipynb'},01_tiny,0,3,0,0",
        f"{folder / 'carol.ipynb'},01_tiny,0,3,0,0", f"{folder / 'dave.ipynb'},01_tiny,1,3,0,1",
        f"{folder / 'erin.ipynb'},01_tiny,0,3,0,0", f"{folder / 'frank.ipynb'},01_tiny,1,3,0,1"]
    table = capsys.readouterr().out
    assert f"{folder / 'bob.ipynb'}  (01_tiny)  0 / 3 points" in table
    assert "  add  not attempted  0 / 2  Exercise `add` is not implemented yet" in table


def test_an_endless_first_exercise_is_an_error_and_the_others_are_graded(course):
    result = grade.grade_notebook(course.make("loop", add="    while True:\n        pass"), course.solutions,
                                  grade.Limits(cell_seconds=3))
    assert statuses(result) == {"add": ("error", 0.0), "sub": ("passed", 1.0)}
    assert result.exercises["add"].message == "timed out after 3 s (the cell was interrupted)"


def test_a_kernel_that_ignores_the_interrupt_is_replaced(course, monkeypatch):
    """The loop swallows KeyboardInterrupt: the kernel is replaced, the cells that had completed
    run again, and grading goes on after the culprit."""
    monkeypatch.setattr(grade, "INTERRUPT_GRACE", 2)
    stubborn = "    import time\n    while True:\n        try:\n            time.sleep(0.05)\n        except BaseException:\n            pass"
    result = grade.grade_notebook(course.make("stubborn", add=stubborn), course.solutions, grade.Limits(cell_seconds=3))
    assert statuses(result) == {"add": ("error", 0.0), "sub": ("passed", 1.0)}
    assert result.exercises["add"].message == ("timed out after 3 s and ignored the interrupt (the kernel was "
                                               "replaced)")


def test_the_notebook_time_limit_stops_grading_and_says_so(course):
    slow_sub = "    import time\n    time.sleep(60)"
    result = grade.grade_notebook(course.make("slow", sub=slow_sub, edit=lambda nb: nb.cells.insert(
        3, nbformat.v4.new_code_cell("import time\ntime.sleep(60)"))), course.solutions,
        grade.Limits(cell_seconds=60, notebook_seconds=8))
    assert statuses(result) == {"add": ("error", 0.0), "sub": ("error", 0.0)}
    assert "time limit" in result.exercises["add"].message and result.seconds < 30


def test_a_memory_bomb_is_an_error_and_the_kernel_survives(course):
    """RLIMIT_DATA: the allocation fails with MemoryError inside the kernel, which goes on."""
    result = grade.grade_notebook(course.make("bomb", add="    block = bytearray(8 * 2**30)\n    return a + b"),
                                  course.solutions, grade.Limits(memory_mib=1024))
    assert statuses(result) == {"add": ("error", 0.0), "sub": ("passed", 1.0)}
    assert result.exercises["add"].message.startswith("MemoryError (line 2 of your cell: `block = bytearray")


def test_processes_that_together_pass_the_memory_limit_are_stopped(course):
    """Four children of 400 MiB each stay under the per-process limit; the watchdog sees the
    whole process group pass 1 GiB, kills it, and a new kernel grades the rest."""
    forks = ("    import subprocess, sys\n"
             "    code = 'import numpy as np, time; x = np.ones(50 * 2**20); time.sleep(30)'\n"
             "    children = [subprocess.Popen([sys.executable, '-c', code]) for _ in range(4)]\n"
             "    [child.wait() for child in children]\n    return a + b")
    result = grade.grade_notebook(course.make("forks", add=forks), course.solutions,
                                  grade.Limits(memory_mib=1024, cell_seconds=60))
    assert statuses(result) == {"add": ("error", 0.0), "sub": ("passed", 1.0)}
    assert result.exercises["add"].message == "the kernel used more than the memory limit of 1024 MiB and was stopped"
    assert result.peak_memory_mib > 1024


@pytest.mark.slow
def test_the_cpu_time_limit_stops_a_busy_kernel(course):
    busy = "    while True:\n        a += 1"
    result = grade.grade_notebook(course.make("busy", add=busy), course.solutions,
                                  grade.Limits(cell_seconds=120, cpu_seconds=4))
    assert statuses(result) == {"add": ("error", 0.0), "sub": ("passed", 1.0)}
    assert result.exercises["add"].message == "the kernel reached the CPU-time limit of 4 s"


def test_a_cell_that_wipes_its_folders_only_reaches_the_scratch_copy(course, tmp_path):
    """The learner's cell deletes everything in its working folder, its HOME and its TMPDIR, locks
    its working folder and writes plots through utils.config.output_dir: the submission, the
    solution and the checkout's outputs/ are untouched, grading goes on, the scratch folder goes."""
    wipe = ("import os, pathlib, shutil, tempfile\nfrom utils import config\n"
            "(config.output_dir('grader_test') / 'plot.png').write_bytes(b'png')\n"
            "for root in ('.', os.path.expanduser('~'), tempfile.gettempdir()):\n"
            "    for path in pathlib.Path(root).iterdir():\n"
            "        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()\n"
            "pathlib.Path('left_behind.txt').write_text('x')\nos.chmod('.', 0o500)\n"
            "print(os.getcwd())")
    path = course.make("wiper", add="    return a + b", edit=lambda nb: nb.cells.insert(3, nbformat.v4.new_code_cell(wipe)))
    watched = [path, course.solution_path, tmp_path / "tinychecks.py"]
    before = {item: item.read_bytes() for item in watched}
    folder_before = sorted(item.name for item in path.parent.iterdir())
    scratch_before = set(Path(tempfile.gettempdir()).glob("course-grade-*"))
    result = grade.grade_notebook(path, course.solutions, grade.Limits())
    assert statuses(result) == {"add": ("passed", 2.0), "sub": ("passed", 1.0)}
    assert {item: item.read_bytes() for item in watched} == before
    assert sorted(item.name for item in path.parent.iterdir()) == folder_before
    assert not (config.REPO_ROOT / "outputs" / "grader_test").exists()
    assert set(Path(tempfile.gettempdir()).glob("course-grade-*")) == scratch_before


# --- the course notebooks (heavy) -----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_course_notebook_student_version_scores_0_and_solution_full_marks(path, tmp_path):
    """Fast mode, one notebook at a time: the untouched student version gets 0 with every exercise
    "not attempted"; the solution notebook (graded as itself) gets full marks."""
    solutions = grade.Solutions(path.parent)
    released = tmp_path / "submitted_by_someone.ipynb"
    nbformat.write(student.make_student_notebook(student.read_notebook(path), path.stem), released)
    limits = grade.Limits(fast=True)
    untouched = grade.grade_notebook(released, solutions, limits)
    assert untouched.score == 0 and untouched.max_score > 0
    assert {exercise.status for exercise in untouched.exercises.values()} == {"not attempted"}, \
        grade.format_table([untouched])
    solved = grade.grade_notebook(path, solutions, limits)
    assert solved.score == solved.max_score == untouched.max_score, grade.format_table([solved])
    print(f"\n{path.stem}: student {untouched.seconds:.0f} s, solution {solved.seconds:.0f} s, peak resident "
          f"{max(untouched.peak_memory_mib, solved.peak_memory_mib):.0f} MiB, peak private data "
          f"{max(untouched.peak_data_mib, solved.peak_data_mib):.0f} MiB")
