"""docs/ADDING_AN_EXERCISE.md works: its exercise, built from its own code blocks, is checked and graded.

The guide's code blocks (the solution cell, the check cell, the declaration, the tests) are read
from the page itself, so the page cannot drift from the code. In a temporary folder the test makes
a solution notebook from them, its student version, a right and a wrong submission, and grades
both with the real grader (kernels, observations, judging in this process).

Two stand-ins, because the test must not edit the shared checkout: the declaration, which the
guide puts in ``utils/checks/convnets.py``, is run here (registering the exercise in this process,
where the grader judges) and in the notebook's setup cell (registering it in the learner's kernel,
where the grader observes); and ``checks.check_pool_output_size`` is set on the package, as the
import the guide adds to ``utils/checks/__init__.py`` does.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from utils import checks, config
from utils.checks import registry
from utils.course import student
from utils.course.grading import assignment as assignments
from utils.course.grading import format_table, grade_all
from utils.course.grading.kernel import Limits

GUIDE = config.REPO_ROOT / "docs" / "ADDING_AN_EXERCISE.md"


def guide_block(first_line: str) -> str:
    """The ```python block of the guide whose first line is ``first_line`` (without that line)."""
    for block in re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL):
        lines = block.rstrip("\n").split("\n")
        if lines[0] == first_line:
            return "\n".join(lines[1:])
    raise AssertionError(f"docs/ADDING_AN_EXERCISE.md has no code block starting with {first_line!r}")


@pytest.fixture
def declared(monkeypatch):
    """The guide's declaration, registered in this process (and removed afterwards)."""
    source = guide_block("# the declaration")
    namespace: dict = {}
    exec(compile(source, str(GUIDE), "exec"), namespace)
    monkeypatch.setattr(checks, "check_pool_output_size", namespace["check_pool_output_size"], raising=False)
    yield source
    registry.EXERCISES.remove("pool_output_size")


def test_the_guides_declaration_and_tests_work_in_a_notebook(declared):
    assert "pool_output_size" in checks.EXERCISES and checks.EXERCISES["pool_output_size"].arguments == ("n", "f", "s")
    namespace = {"checks": checks, "pytest": pytest}
    exec(compile(guide_block("# the tests"), str(GUIDE), "exec"), namespace)
    namespace["test_pool_output_size"]()


@pytest.mark.slow
def test_the_guides_exercise_is_graded_right_and_wrong(declared, tmp_path):
    setup = (
        "from utils import checks\n"
        + declared
        + "\nchecks.check_pool_output_size = check_pool_output_size   # what utils/checks/__init__.py does"
    )
    solution = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Pooling\n\n### Exercise 1 — `pool_output_size`"),
            nbformat.v4.new_code_cell(setup),
            nbformat.v4.new_code_cell(guide_block("# the solution cell")),
            nbformat.v4.new_code_cell(guide_block("# the check cell")),
        ]
    )
    (tmp_path / "solutions").mkdir()
    nbformat.write(solution, tmp_path / "solutions" / "06_pool.ipynb")
    released = student.make_student_notebook(solution, "06_pool")
    assert "raise NotImplementedError" in released.cells[2].source and "return (n - f)" not in released.cells[2].source
    paths = []
    for name, body in (("right", "    return (n - f) // s + 1"), ("wrong", "    return (n - f) // s")):
        notebook = nbformat.reads(nbformat.writes(released), as_version=4)
        notebook.cells[2].source = "def pool_output_size(n, f, s):\n" + body
        paths.append(tmp_path / f"{name}.ipynb")
        nbformat.write(notebook, paths[-1])
    submissions = assignments.read_submissions(paths, assignments.Solutions(tmp_path / "solutions"))
    right, wrong = grade_all(submissions, Limits(cell_seconds=120, memory_mib=3000), jobs=2, watch=None)
    assert right.score == right.max_score == 1.0, format_table([right])
    graded = wrong.exercises["pool_output_size"]
    assert graded.status == "failed" and "Likely mistake (forgot + 1)" in graded.message, format_table([wrong])
