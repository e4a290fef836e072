"""One mistake costs one exercise (issue 22): a right later exercise that calls a wrong earlier one.

A two-exercise notebook like notebook 04's Gram part (``gram_matrix``, then
``compute_layer_style_cost`` which calls it), graded end to end through the real kernel and the
real observe/judge path. In the notebook the later check names the broken earlier function; in
grading the later exercise is judged with the library's ``gram_matrix`` substituted and keeps its
point, so the learner loses only the point of the exercise they got wrong.
"""

from __future__ import annotations

import nbformat
import pytest

from test_course_grade_helpers import needs_sandbox
from utils import checks
from utils.course import student
from utils.course.grading import assignment as assignments
from utils.course.grading import grade_all
from utils.course.grading.kernel import Limits

pytestmark = [pytest.mark.slow, needs_sandbox]

SETUP = "import tensorflow as tf\nfrom utils import checks"
GRAM = "def gram_matrix(A):\n    ### BEGIN SOLUTION\n    return tf.matmul(A, tf.transpose(A))\n    ### END SOLUTION"
LAYER = """def compute_layer_style_cost(a_S, a_G):
    ### BEGIN SOLUTION
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_S = tf.transpose(tf.reshape(a_S, shape=[-1, n_C]))
    a_G = tf.transpose(tf.reshape(a_G, shape=[-1, n_C]))
    GS, GG = gram_matrix(a_S), gram_matrix(a_G)
    return tf.reduce_sum(tf.square(GS - GG)) / (4.0 * n_C ** 2 * (n_H * n_W) ** 2)
    ### END SOLUTION"""
#: A classic wrong Gram matrix: AᵀA (positions × positions) instead of AAᵀ (channels × channels).
WRONG_GRAM = "def gram_matrix(A):\n    return tf.matmul(tf.transpose(A), A)"


def _right_layer_cost():
    return LAYER.replace("    ### BEGIN SOLUTION\n", "").replace("\n    ### END SOLUTION", "")


def test_a_right_later_exercise_keeps_its_point_when_an_earlier_one_is_wrong(tmp_path):
    solution = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Gram matrices"),
            nbformat.v4.new_code_cell(SETUP),
            nbformat.v4.new_code_cell(GRAM),
            nbformat.v4.new_code_cell("checks.check_gram_matrix(gram_matrix)"),
            nbformat.v4.new_code_cell(LAYER),
            nbformat.v4.new_code_cell("checks.check_compute_layer_style_cost(compute_layer_style_cost)"),
        ]
    )
    (tmp_path / "solutions").mkdir()
    nbformat.write(solution, tmp_path / "solutions" / "04_tiny.ipynb")
    submission = student.make_student_notebook(solution, "04_tiny")
    submission.cells[2].source = WRONG_GRAM
    submission.cells[4].source = _right_layer_cost()
    path = tmp_path / "learner.ipynb"
    nbformat.write(submission, path)

    # In the notebook (the learner's own process), the later check names the earlier function.
    namespace = {}
    exec(SETUP + "\n" + WRONG_GRAM + "\n" + _right_layer_cost(), namespace)
    with pytest.raises(checks.CheckFailed, match="`compute_layer_style_cost` looks right, but `gram_matrix` is wrong"):
        checks.check_compute_layer_style_cost(namespace["compute_layer_style_cost"])

    # Graded: the wrong exercise fails, the right one that calls it keeps its point.
    solutions = assignments.Solutions(tmp_path / "solutions")
    [result] = grade_all(
        assignments.read_submissions([path], solutions), Limits(cell_seconds=120, memory_mib=3000), jobs=1, watch=None
    )
    grades = {name: (exercise.status, exercise.points) for name, exercise in result.exercises.items()}
    assert grades == {"gram_matrix": ("failed", 0.0), "compute_layer_style_cost": ("passed", 1.0)}, grades
    assert "gram_matrix" in result.exercises["gram_matrix"].message
