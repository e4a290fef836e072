"""Tests for utils.checks.convnets: right answers pass, classic mistakes get their hint."""

import pytest

from utils import checks


def test_correct_solutions_pass(capsys):
    checks.check_conv_output_size(lambda n, f, p, s: (n + 2 * p - f) // s + 1)
    checks.check_conv_param_count(lambda f, rank, c_in, c_out: (f ** rank * c_in + 1) * c_out)
    checks.check_receptive_field_step(lambda r, j, c, k, s, p: (r + (k - 1) * j, j * s, c + ((k - 1) / 2 - p) * j))
    assert capsys.readouterr().out.count("All tests passed.") == 3


@pytest.mark.parametrize("check, wrong, hint", [
    (checks.check_conv_output_size, lambda n, f, p, s: (n + 2 * p - f) // s, "forgot + 1"),
    (checks.check_conv_output_size, lambda n, f, p, s: (n - f) // s + 1, "forgot the padding"),
    (checks.check_conv_output_size, lambda n, f, p, s: (n + 2 * p - f) / s + 1, "no floor"),
    (checks.check_conv_param_count, lambda f, rank, c_in, c_out: f ** rank * c_in * c_out, "forgot the bias"),
    (checks.check_receptive_field_step,
     lambda r, j, c, k, s, p: (r + k * j, j * s, c + ((k - 1) / 2 - p) * j), "k instead of k - 1"),
    (checks.check_receptive_field_step,
     lambda r, j, c, k, s, p: (r + (k - 1), j * s, c + ((k - 1) / 2 - p) * j), "forgot the jump"),
])
def test_mistakes_get_their_hint(check, wrong, hint, capsys):
    with pytest.raises(checks.CheckFailed) as error:
        check(wrong)
    assert hint in str(error.value) and "expected" in str(error.value)
    assert hint in capsys.readouterr().out


def test_not_implemented_is_reported_clearly():
    def stub(*args):
        raise NotImplementedError("write this")

    with pytest.raises(checks.CheckFailed, match="is not implemented yet"):
        checks.check_receptive_field_step(stub)
