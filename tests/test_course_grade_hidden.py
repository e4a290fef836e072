"""Hidden checks are judged in the grader, and the answer key's spies are in place before the learner's code.

One grading run (module fixture, two kernels at a time, the real grader entry) of a small
assignment whose second exercise, ``conv_param_count``, is checked ONLY by a hidden-check region.
Before issue 30 such a region ran in the learner's kernel as an ``assert``: an ``int`` whose
``__eq__`` lies, an input transformer dropping the region's lines, or a ``pre_run_cell`` hook
copying its text into the learner's own messages defeated it. Now the region holds
``checks.check_conv_param_count(...)`` only; the grader turns it into an observation judged in its
own process on cases drawn from its secret seed, and the region's text never reaches the kernel.

The last submission takes the library's reference through names built at run time into a
default argument (invisible to the static search): the spies the grader installs in its own first
cell, before the learner's first cell, record the call anyway.
"""

from __future__ import annotations

import nbformat
import pytest

from test_course_grade_helpers import PARAMS, RIGHT_PARAMS, RIGHT_SIZE, SETUP, SIZE, SIZE_CHECK
from utils.course import student
from utils.course.grading import assignment as assignments
from utils.course.grading import feedback_page, format_table, grade_all
from utils.course.grading.kernel import Limits
from utils.errors import NotebookFormatError

pytestmark = pytest.mark.slow

MARKER = "SECRET-MARKER-7c1e"
HIDDEN_CHECK = (
    "print('conv_param_count is checked when your notebook is graded')\n"
    "### BEGIN HIDDEN CHECKS\n"
    f"# {MARKER}: cases drawn from the grader's seed\n"
    "checks.check_conv_param_count(conv_param_count)\n"
    "### END HIDDEN CHECKS"
)

#: Right on none of the cases, but every comparison with it says True.
LIAR = """\
    class Liar(int):
        def __eq__(self, other):
            return True
        __hash__ = int.__hash__
    return Liar(0)"""

#: The attack on the old hidden region: drop the lines between the markers before they run.
DROP_THE_REGION = """\
def drop_hidden(lines):
    kept, inside = [], False
    for line in lines:
        if "BEGIN HIDDEN" in line:
            inside = True
        if not inside:
            kept.append(line)
        if "END HIDDEN" in line:
            inside = False
    return kept
get_ipython().input_transformers_post.append(drop_hidden)
"""

#: What an attacker can still do: drop every observation of every cell (the grade is then 0).
DROP_OBSERVATIONS = """\
get_ipython().input_transformers_post.append(lambda lines: [line for line in lines if "observe(" not in line])
"""

#: Copy the source of every cell that runs into the learner's own error message (the feedback page).
COPY_THE_CELL = """\
SEEN = []
get_ipython().events.register("pre_run_cell", lambda info: SEEN.append(info.raw_cell))
"""
COPYING_PARAMS = """\
    text = " ".join(SEEN[-1].split()) if SEEN else ""
    start = text.find("HID" + "DEN")
    raise ValueError(text[start:start + 200] if start >= 0 else text[-200:])"""

#: The reference through names built at run time, kept in a default argument before any check runs.
HIDDEN_REFERENCE = """\
import importlib
_size = getattr(importlib.import_module("utils.conv" + "nets.arith" + "metic"), "conv_output" + "_length")
"""
SIZE_BY_REFERENCE = "    return size(n, f, stride=s, padding=p)"


class Graded:
    """The run's results by submission name, and the assignment."""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("hidden")
    solution = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Shape arithmetic, with a hidden check"),
            nbformat.v4.new_code_cell(SETUP),
            nbformat.v4.new_code_cell(SIZE),
            nbformat.v4.new_code_cell(SIZE_CHECK),
            nbformat.v4.new_code_cell(PARAMS),
            nbformat.v4.new_code_cell(HIDDEN_CHECK),
        ]
    )
    (root / "solutions").mkdir()
    nbformat.write(solution, root / "solutions" / "06_hidden.ipynb")
    released = student.make_student_notebook(solution, "06_hidden")

    def make(name, size=RIGHT_SIZE, params=RIGHT_PARAMS, extra=(), signature="n, f, p, s"):
        notebook = nbformat.reads(nbformat.writes(released), as_version=4)
        notebook.cells[2].source = f"def conv_output_size({signature}):\n" + size
        notebook.cells[4].source = "def conv_param_count(f, rank, c_in, c_out):\n" + params
        for offset, source in enumerate(extra):
            notebook.cells.insert(2 + offset, nbformat.v4.new_code_cell(source))
        path = root / "submissions" / f"{name}.ipynb"
        path.parent.mkdir(exist_ok=True)
        nbformat.write(notebook, path)
        return path

    made = {
        "right": make("right"),
        "liar": make("liar", params=LIAR),
        "drops_the_region": make(
            "drops_the_region", params="    return f ** rank * c_in * c_out", extra=[DROP_THE_REGION]
        ),
        "drops_observations": make("drops_observations", extra=[DROP_OBSERVATIONS]),
        "copies_the_cell": make("copies_the_cell", params=COPYING_PARAMS, extra=[COPY_THE_CELL]),
        "hidden_reference": make(
            "hidden_reference", size=SIZE_BY_REFERENCE, extra=[HIDDEN_REFERENCE], signature="n, f, p, s, size=_size"
        ),
    }
    solutions = assignments.Solutions(root / "solutions")
    results = grade_all(
        assignments.read_submissions(list(made.values()), solutions),
        Limits(cell_seconds=120, memory_mib=3000),
        jobs=2,
        watch=None,
    )
    print("\n" + format_table(results))
    run = Graded()
    run.results = dict(zip(made, results))
    run.assignment = solutions.assignment("06_hidden")
    return run


def statuses(result):
    return {name: exercise.status for name, exercise in result.exercises.items()}


def test_a_hidden_check_is_an_observation_judged_in_the_grader(graded):
    right = graded.results["right"]
    assert right.score == right.max_score == 3.0, format_table([right])
    [check] = [check for check in graded.assignment.checks if check.exercise == "conv_param_count"]
    assert check.calls == ("conv_param_count",) and MARKER not in check.student_source


def test_an_int_whose_eq_lies_fails_the_hidden_check(graded):
    liar = graded.results["liar"].exercises["conv_param_count"]
    assert liar.status == "failed" and "expected:" in liar.message and "got:      0" in liar.message, liar.message


def test_an_input_transformer_cannot_drop_the_hidden_check(graded):
    result = graded.results["drops_the_region"]
    assert statuses(result) == {"conv_output_size": "passed", "conv_param_count": "failed"}, format_table([result])
    dropped = graded.results["drops_observations"]  # dropping every observation scores nothing
    assert dropped.score == 0.0 and set(statuses(dropped).values()) == {"error"}, format_table([dropped])


def test_a_pre_run_cell_hook_copies_no_hidden_text_into_the_feedback_page(graded):
    result = graded.results["copies_the_cell"]
    assert result.exercises["conv_param_count"].status == "error"
    page = feedback_page(result)
    assert "ValueError" in page  # the copy did reach the page ...
    assert (
        MARKER not in page and "HIDDEN" not in page and "checks.check_conv_param_count" not in page
    )  # ... of no hidden text


def test_the_spies_installed_before_the_first_cell_see_a_reference_kept_in_a_default(graded):
    exercise = graded.results["hidden_reference"].exercises["conv_output_size"]
    assert exercise.status == "failed", exercise.message
    assert "calls the course library's reference `utils.convnets.arithmetic.conv_output_length`" in exercise.message


@pytest.mark.parametrize(
    "region, words",
    [
        ("assert conv_param_count(1, 1, 1, 1) == 2", "found `assert conv_param_count(1, 1, 1, 1) == 2`"),
        ("print(checks.check_conv_param_count(conv_param_count))", "only `checks.check_<exercise>(...)` calls"),
        ("checks.check_conv_param_count(lambda *a: 2)", "arguments are names or values"),
        ("    checks.check_conv_param_count(conv_param_count)", "does not parse at the top level"),
    ],
)
def test_an_assignment_whose_hidden_region_holds_anything_else_is_refused_in_one_line(region, words):
    cells = [
        nbformat.v4.new_code_cell(source)
        for source in (SETUP, PARAMS, f"### BEGIN HIDDEN CHECKS\n{region}\n### END HIDDEN CHECKS")
    ]
    with pytest.raises(NotebookFormatError) as raised:
        assignments.Assignment.from_notebook(nbformat.v4.new_notebook(cells=cells), "06_bad", "06_bad.ipynb")
    message = str(raised.value)
    assert words in message and "cell 2: line 2" in message and "\n" not in message, message
