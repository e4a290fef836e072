"""Tests for utils.checks.convnets: right answers pass, classic mistakes get their hint.

The wrong answers below are written here, the way a learner might write them, independently of
the check's own list of mistakes.
"""

import math

import pytest

from utils import checks


def _failure(check, function, capsys) -> str:
    """The CheckFailed message of ``check(function)``; nothing may be printed besides raising."""
    with pytest.raises(checks.CheckFailed) as error:
        check(function)
    assert capsys.readouterr().out == ""
    return str(error.value)


def test_correct_solutions_pass_and_return_nothing(capsys):
    assert checks.check_conv_output_size(lambda n, f, p, s: (n + 2 * p - f) // s + 1) is None
    assert checks.check_conv_output_size(lambda n, f, p, s: math.floor((n + 2 * p - f) / s) + 1) is None
    assert checks.check_conv_output_size(lambda n, f, p, s: int((n + 2 * p - f) / s) + 1) is None
    assert checks.check_conv_param_count(lambda f, rank, c_in, c_out: (f**rank * c_in + 1) * c_out) is None
    assert (
        checks.check_receptive_field_step(lambda r, j, c, k, s, p: (r + (k - 1) * j, j * s, c + ((k - 1) / 2 - p) * j))
        is None
    )
    assert capsys.readouterr().out.count("All tests passed.") == 5


@pytest.mark.parametrize(
    "check, wrong, hint",
    [
        (checks.check_conv_output_size, lambda n, f, p, s: (n + 2 * p - f) // s, "forgot + 1"),
        (checks.check_conv_output_size, lambda n, f, p, s: (n - f) // s + 1, "forgot the padding"),
        (checks.check_conv_output_size, lambda n, f, p, s: (n + 2 * p - f) / s + 1, "no floor"),
        (
            checks.check_conv_output_size,
            lambda n, f, p, s: int(round((n + 2 * p - f) / s)) + 1,
            "rounded to the nearest",
        ),
        (checks.check_conv_output_size, lambda n, f, p, s: -(-(n + 2 * p - f) // s) + 1, "rounded up"),
        (checks.check_conv_param_count, lambda f, rank, c_in, c_out: f**rank * c_in * c_out, "forgot the bias"),
        (
            checks.check_receptive_field_step,
            lambda r, j, c, k, s, p: (r + k * j, j * s, c + ((k - 1) / 2 - p) * j),
            "k instead of k - 1",
        ),
        (
            checks.check_receptive_field_step,
            lambda r, j, c, k, s, p: (r + (k - 1), j * s, c + ((k - 1) / 2 - p) * j),
            "forgot the jump",
        ),
    ],
)
def test_mistakes_get_their_hint_and_only_that_one(check, wrong, hint, capsys):
    message = _failure(check, wrong, capsys)
    assert f"Likely mistake ({hint})" in message and "expected" in message
    assert message.count("Likely mistake") == 1


def test_round_is_caught_on_a_fraction_above_one_half(capsys):
    message = _failure(checks.check_conv_output_size, lambda n, f, p, s: int(round((n + 2 * p - f) / s)) + 1, capsys)
    assert "n=10, f=3, p=0, s=4" in message
    assert "expected: 2" in message and "got:      3" in message


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda r, j, c, k, s, p: (r + (k - 1) * j, j * s), "return exactly 3 values"),
        (lambda r, j, c, k, s, p: r + (k - 1) * j, "return a tuple of 3 values"),
    ],
)
def test_wrong_structure_gets_a_hint_about_types(wrong, words, capsys):
    message = _failure(checks.check_receptive_field_step, wrong, capsys)
    assert "Wrong type" in message and words in message
    assert "compare shapes" not in message


def test_a_string_answer_gets_a_type_hint_not_a_crash(capsys):
    message = _failure(checks.check_conv_param_count, lambda f, rank, c_in, c_out: "73856", capsys)
    assert "Wrong type: expected a number or an array; got the str '73856'" in message


def test_not_implemented_is_reported_clearly():
    def stub(*args):
        raise NotImplementedError("Exercise `receptive_field_step`: replace this line with your code.")

    with pytest.raises(checks.ExerciseNotImplemented, match="`receptive_field_step` is not implemented yet"):
        checks.check_receptive_field_step(stub)


def test_a_crash_is_one_short_message_naming_the_line(capsys):
    def crashes(n, f, p, s):
        return (n + 2 * p - f) // 0 + 1

    message = _failure(checks.check_conv_output_size, crashes, capsys)
    assert "ZeroDivisionError" in message and "return (n + 2 * p - f) // 0 + 1" in message
    assert "Traceback" not in message and len(message.splitlines()) <= 3
