"""The answer key, found in the learner's own cells by object identity (issue 30, item 4).

The course library ships its reference implementations, and the checks hold them too. The grader
reads (never runs) every cell the learner wrote or changed and resolves each attribute chain by
importing what it names and comparing the object it reaches with every reference and what wraps
it: a chain through a package that re-exports a module, a default argument, an alias, a closure,
or the checks' own declarations (``checks.EXERCISES``, ``.exercise``, ``.reference``) all count.
The course's own cells (unchanged) never do. Calls through names built at run time are left to
the spies of the grader's first cell (tests/test_course_grade_hidden.py).
"""

from __future__ import annotations

import pytest

from test_course_grade_helpers import TinyCourse
from utils.course.grading import answer_key_uses, plan_cells
from utils.course.grading.judging import answer_keys
from utils.course.grading.plan import CHECKS_ANSWER_KEY

REFERENCE = "utils.convnets.arithmetic.conv_output_length"


@pytest.fixture
def course(tmp_path):
    return TinyCourse(tmp_path)


def uses(course, size_code, extra=()):
    plan = plan_cells(
        course.notebook(size=size_code, extra=list(extra)), course.solutions.assignment("06_tiny"), seed=1
    )
    return [
        use
        for use in answer_key_uses(plan, answer_keys(["conv_output_size", "conv_param_count"]))
        if use.exercise == "conv_output_size"
    ]


@pytest.mark.parametrize(
    "code, extra",
    [
        # a chain through the checks package, which imports the module: as a default argument
        (
            "    return size(n, f, stride=s, padding=p)",
            [
                "from utils import checks as c\n"
                "def helper(n, f, s, p, size=c.convnets.arithmetic.conv_output_length):\n"
                "    return size(n, f, stride=s, padding=p)"
            ],
        ),
        (
            "    def inner(size=checks.convnets.arithmetic.conv_output_length):\n        return size(n, f, stride=s, padding=p)\n"
            "    return inner()",
            [],
        ),
        # an alias of the module, then the function through it
        ("    helper = arithmetic\n    return helper.conv_output_length(n, f, stride=s, padding=p)", []),
        # a parameter whose default is the module
        ("    return (lambda m=arithmetic: m.conv_output_length(n, f, stride=s, padding=p))()", []),
        # a closure made in another cell the learner wrote
        (
            "    return SIZE(n, f, stride=s, padding=p)",
            ["def make(reference):\n    return reference\nSIZE = make(arithmetic.conv_output_length)"],
        ),
        # the re-export of a package
        ("    from utils import convnets\n    return convnets.arithmetic.conv_output_length(n, f)", []),
    ],
)
def test_a_reference_reached_by_any_attribute_chain_is_found_by_identity(course, code, extra):
    found = uses(course, code, extra)
    assert [use.name for use in found] == [REFERENCE], found
    assert "calls the course library's reference" in found[0].message()


@pytest.mark.parametrize(
    "code",
    [
        "    return checks.EXERCISES['conv_output_size'].reference(n, f, p, s)",
        "    return checks.check_conv_output_size.exercise.reference(n, f, p, s)",
        "    return getattr(checks, 'EXERCISES')['conv_output_size'].reference(n, f, p, s)",
        "    from utils.checks import EXERCISES\n    return EXERCISES['conv_output_size'].reference(n, f, p, s)",
    ],
)
def test_the_checks_own_declarations_are_flagged(course, code):
    found = uses(course, code)
    assert CHECKS_ANSWER_KEY in [use.name for use in found], found
    use = next(use for use in found if use.name == CHECKS_ANSWER_KEY)
    assert "reads the checks' own declarations" in use.message()


def test_a_declaration_read_in_a_cell_of_its_own_is_charged_to_the_exercise_it_names(course):
    plan = plan_cells(
        course.notebook(extra=["CHEAT = checks.EXERCISES['conv_param_count'].reference"]),
        course.solutions.assignment("06_tiny"),
        seed=1,
    )
    found = answer_key_uses(plan, answer_keys(["conv_output_size", "conv_param_count"]))
    assert [(use.exercise, use.name) for use in found] == [("conv_param_count", CHECKS_ANSWER_KEY)]


@pytest.mark.parametrize(
    "code",
    [
        "    return (n + 2 * p - f) // s + 1",
        "    checks.check_conv_param_count  # a learner looking at a check\n    return (n + 2 * p - f) // s + 1",
        "    reference = (n + 2 * p - f) // s\n    return reference + 1",
        "    arithmetic = 3\n    return (n + 2 * p - f) // s + 1",
    ],
)
def test_own_code_is_not_flagged(course, code):
    assert uses(course, code) == []


def test_resolving_a_chain_never_runs_a_command_line(course, monkeypatch):
    """A `__main__` module runs its command when imported: the grader never imports one for a chain."""
    import importlib

    imported = []
    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", lambda name, *a: imported.append(name) or real(name, *a))
    assert uses(course, "    import utils.faces.__main__ as cli\n    return cli.main(n)") == []
    assert not any("__main__" in name for name in imported)
