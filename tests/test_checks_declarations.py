"""Each exercise is declared once, and every declaration keeps the rules the checks rest on.

* the notebooks call each ``checks.check_<name>`` with arguments its declaration takes (read with
  ``ast`` from every code cell of ``notebooks/*.ipynb``, hidden regions included);
* the exercise order is stated (``registry.ORDER``), every course exercise is declared once and
  exported; the notebook's ``check_<name>`` and the grader's binding share one signature;
* a mistake is named only where a case separates it from every other named mistake of its
  exercise: for every declaration, every two mistakes differ on some public case (and each
  differs from the reference); for ``train_step``, every two named wrong J's and wrong steps.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import itertools
import json

import numpy as np
import pytest

from tiny_vgg import TinyNetwork
from utils import assets, checks, config
from utils.checks import EXERCISES, ORDER, registry, train_step_replay
from utils.checks.comparing import close
from utils.errors import UsageError

NOTEBOOKS = sorted((config.REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))
ENCODER = assets.find("dlib_face_resnet_keras")
NEEDS_ASSETS = {"verify", "who_is_it", "train_step"}  # their cases are built from a network (below)


# ---------------------------------------------------------------------------- one declaration


def check_calls(source: str):
    """``(exercise, call node)`` of every ``checks.check_<name>(...)`` in a cell (magics blanked)."""
    tree = ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "checks"
            and node.func.attr.startswith("check_")
        ):
            yield node.func.attr[len("check_") :], node


def call_problem(name: str, call: ast.Call) -> str | None:
    """Why ``call`` does not fit ``check_<name>``'s declaration, or None."""
    function = getattr(checks, f"check_{name}", None)
    if function is None or name not in EXERCISES:
        return f"no declared check `check_{name}`"
    positional = [object() for argument in call.args if not isinstance(argument, ast.Starred)]
    keywords = {keyword.arg: object() for keyword in call.keywords if keyword.arg}
    try:
        inspect.signature(function).bind(*positional, **keywords)
    except TypeError as error:
        return str(error)
    return None


def test_every_notebook_check_call_fits_its_declaration():
    calls = 0
    for path in NOTEBOOKS:
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] != "code":
                continue
            for name, call in check_calls("".join(cell["source"])):
                calls += 1
                problem = call_problem(name, call)
                assert problem is None, f"{path.name}, cell {index}: checks.check_{name}(...): {problem}"
    assert calls >= len(ORDER)


@pytest.mark.parametrize(
    "source, words",
    [
        ("checks.check_verify(verify, database, model, threshold=0.7)", "unexpected keyword argument 'threshold'"),
        ("checks.check_conv_output_size(conv_output_size, 3)", "too many positional arguments"),
        ("checks.check_train_step(train_step, image)", "missing a required argument"),
        ("checks.check_no_such_exercise(f)", "no declared check"),
    ],
)
def test_a_call_its_declaration_does_not_take_is_caught(source, words):
    [(name, call)] = list(check_calls(source))
    assert words in (call_problem(name, call) or "")


def test_the_order_is_stated_and_every_exercise_is_declared_once_and_exported():
    assert list(EXERCISES) == list(ORDER) and len(set(ORDER)) == len(ORDER)
    for name in ORDER:
        function = getattr(checks, f"check_{name}")
        assert f"check_{name}" in checks.__all__ and function.exercise is EXERCISES[name]
        assert function.__doc__ and function.__name__ == f"check_{name}"
    with pytest.raises(UsageError, match="declared twice"):
        registry.EXERCISES.add(EXERCISES["gram_matrix"])
    assert set(checks.__all__) <= set(vars(checks))


def test_every_dependency_is_an_earlier_declared_exercise():
    for name in ORDER:
        for dependency in EXERCISES[name].depends_on:
            assert ORDER.index(dependency) < ORDER.index(name), f"{name} depends on {dependency}, declared later"


@pytest.mark.parametrize("name", ORDER)
def test_the_notebook_check_and_the_graders_binding_share_one_signature(name):
    declaration = EXERCISES[name]
    notebook = list(inspect.signature(getattr(checks, f"check_{name}")).parameters.values())
    assert list(declaration.context_signature.parameters.values()) == notebook[1:]


def test_arguments_a_check_does_not_take_are_a_context_problem_not_a_crash():
    observation = checks.observe("conv_output_size", lambda n, f, p, s: 1, "surplus")
    assert (
        observation.problem["kind"] == "context" and "too many positional arguments" in observation.problem["message"]
    )
    assert checks.judge("conv_output_size", observation).status == "error"


# ---------------------------------------------------------------------------- named mistakes are separated


def _result(function, case):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return function(*case.args, **case.kwargs)
    except Exception:
        return None


def _assert_separated(declaration, context):
    """Every two mistakes differ on some public case where both give a result; each differs from the reference."""
    cases = declaration.cases(context, None)
    mistakes = declaration.mistakes(context)
    results = [[_result(mistake.implementation, case) for case in cases] for mistake in mistakes]
    expected = [_result(declaration.reference, case) for case in cases]

    def differ(first, second):
        return any(
            a is not None and b is not None and not close(a, b, declaration.rtol, declaration.atol)
            for a, b in zip(first, second)
        )

    for mistake, outputs in zip(mistakes, results):
        assert differ(outputs, expected), f"{declaration.name}: ({mistake.name}) is right on every case"
    for (first, first_outputs), (second, second_outputs) in itertools.combinations(zip(mistakes, results), 2):
        assert differ(first_outputs, second_outputs), (
            f"{declaration.name}: no case separates ({first.name}) from ({second.name})"
        )


@pytest.mark.parametrize("name", [name for name in ORDER if name not in NEEDS_ASSETS])
def test_every_named_mistake_is_separated_from_every_other_by_a_case(name):
    declaration = EXERCISES[name]
    _assert_separated(declaration, declaration.bind((), {}))


@pytest.mark.slow
@pytest.mark.skipif(ENCODER is None, reason="asset dlib_face_resnet_keras not found (run `make setup`)")
@pytest.mark.parametrize("name", ["verify", "who_is_it"])
def test_the_face_checks_mistakes_are_separated_by_a_case(name):
    _assert_separated(EXERCISES[name], checks.trusted_context(name))


@pytest.fixture(scope="module")
def replay():
    context = {
        "vgg_model_outputs": TinyNetwork(),
        "style_layers": [("conv_a", 0.6), ("conv_b", 0.4)],
        "alpha": 10.0,
        "beta": 40.0,
        "rtol": 1e-3,
    }
    return train_step_replay.Replay(context), EXERCISES["train_step"].cases(context, None)


def _steps_of(replay, cases, rule):
    """The steps a learner whose updates follow ``rule`` (and whose J is right) would take."""
    steps = []
    for case in cases:
        before = case.args[0]
        for index in range(2):
            step = train_step_replay.Step(case, index, before, before, 0.0, ["a_C", "a_S"], False)
            g_content, g_style = replay.gradients(step)
            moved = replay.rate(case) * (rule.content_weight * g_content + rule.style_weight * g_style) * rule.times
            step.after = np.clip(before - moved, 0.0, 1.0).astype(np.float32)
            step.J = replay.total(*replay.costs(before, case))
            steps.append(step)
            before = step.after
    return steps


def test_every_named_wrong_step_of_train_step_is_the_only_one_that_explains_it(replay):
    replay, cases = replay
    right = train_step_replay.UpdateRule("right", "", replay.alpha, replay.beta)
    rules = [right] + train_step_replay.update_alternatives(replay.alpha, replay.beta)
    for rule in rules:
        steps = _steps_of(replay, cases, rule)
        explaining = [other.label for other in rules if all(replay.matches(step, other) for step in steps)]
        assert explaining == [rule.label], f"the steps of ({rule.label}) are explained by {explaining}"


def test_every_named_wrong_J_of_train_step_is_the_only_one_that_explains_it(replay):
    replay, cases = replay
    steps = _steps_of(replay, cases, train_step_replay.UpdateRule("right", "", replay.alpha, replay.beta))
    parts = [replay.costs(step.before, step.case) for step in steps]
    alternatives = train_step_replay.cost_alternatives(replay.alpha, replay.beta)
    values = {
        label: [function(replay, step, *part) for step, part in zip(steps, parts)]
        for label, _, function in alternatives
    }
    values["right"] = [replay.total(*part) for part in parts]
    for (first, first_values), (second, second_values) in itertools.combinations(values.items(), 2):
        assert not all(replay.close(a, b) for a, b in zip(first_values, second_values)), (
            f"no step separates ({first}) from ({second})"
        )
