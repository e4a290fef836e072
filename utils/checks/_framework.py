"""Exercise checks with mistake-specific hints, shared by the notebooks and pytest.

A check runs the learner's function on a few inputs and compares each result with the project's
reference implementation (with tolerances). When a result is wrong, it also runs a small set of
*classic mistakes* — deliberately wrong implementations, each with the hint written for it — and
if the learner's result equals what one of them returns, the hint for that mistake is printed.
So a hint is given only when the evidence points to that mistake; otherwise the check reports
what was expected and what came back.

The checks live in this package (``utils.checks``), one submodule per part of the course
(``faces``, ``nst``, ``convnets``) re-exported here, so a notebook only needs::

    from utils import checks
    checks.check_triplet_loss(triplet_loss)     # prints "All tests passed." or raises CheckFailed

A learner function that still raises ``NotImplementedError`` (the student stub) produces the
message "Exercise `name` is not implemented yet ..." instead of a traceback from deep inside.
"""

from __future__ import annotations

import dataclasses
import traceback
from typing import Any, Callable, Sequence

import numpy as np

from utils.errors import CheckFailed, ExerciseNotImplemented


@dataclasses.dataclass
class Mistake:
    """A classic wrong implementation and the hint that explains it.

    Attributes:
        name: short label, e.g. ``"missing axis=-1"``.
        hint: what to tell the learner when their result matches this mistake.
        implementation: a function with the exercise's signature that makes exactly this mistake.
    """

    name: str
    hint: str
    implementation: Callable


@dataclasses.dataclass
class Case:
    """One input to an exercise: positional and keyword arguments, and a description."""

    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    description: str = ""


def _to_numpy(value: Any):
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, (tuple, list)):
        return type(value)(_to_numpy(v) for v in value)
    return value


def _close(expected: Any, actual: Any, rtol: float, atol: float) -> bool:
    expected, actual = _to_numpy(expected), _to_numpy(actual)
    if isinstance(expected, (tuple, list)):
        return (isinstance(actual, (tuple, list)) and len(actual) == len(expected)
                and all(_close(e, a, rtol, atol) for e, a in zip(expected, actual)))
    if isinstance(expected, (str, bool, np.bool_)) or expected is None:
        return type(actual) in (type(expected), np.bool_, bool) and actual == expected
    try:
        expected_array = np.asarray(expected, dtype=np.float64)
        actual_array = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if expected_array.shape != actual_array.shape:
        return False
    return bool(np.allclose(actual_array, expected_array, rtol=rtol, atol=atol))


def _describe(value: Any) -> str:
    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return f"array {np.array2string(value, precision=5)} (shape {value.shape})"
        return f"array of shape {value.shape}, dtype {value.dtype}, mean {value.mean():.5g}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return repr(value)


def _call(exercise: str, function: Callable, case: Case):
    try:
        return function(*case.args, **case.kwargs)
    except NotImplementedError:
        raise ExerciseNotImplemented(
            f"Exercise `{exercise}` is not implemented yet: replace the `raise NotImplementedError` "
            f"line with your code, run that cell, then run this check again.") from None
    except CheckFailed:
        raise
    except Exception as error:  # the learner's code crashed: show where, briefly
        frames = traceback.extract_tb(error.__traceback__)[-1:]
        where = f" (line {frames[0].lineno}: `{frames[0].line}`)" if frames else ""
        raise CheckFailed(f"Exercise `{exercise}` raised {type(error).__name__}: {error}{where}"
                          f"{' for ' + case.description if case.description else ''}.") from None


def check_function(exercise: str, function: Callable, reference: Callable, cases: Sequence[Case],
                   mistakes: Sequence[Mistake] = (), rtol: float = 1e-4, atol: float = 1e-5,
                   quiet: bool = False) -> bool:
    """Compare ``function`` with ``reference`` on every case; explain the first difference.

    Args:
        exercise: the exercise's name, used in messages.
        function: the learner's implementation.
        reference: the project's correct implementation (same signature).
        cases: inputs to try.
        mistakes: classic wrong implementations with their hints.
        rtol, atol: tolerances for numeric results.
        quiet: do not print "All tests passed.".

    Returns:
        True when every case matches.

    Raises:
        ExerciseNotImplemented: the function still raises ``NotImplementedError``.
        CheckFailed: a wrong result, with expected vs got and the matching hint (also printed).
    """
    if not callable(function):
        raise CheckFailed(f"`{exercise}` should be a function; got {type(function).__name__}")
    for case in cases:
        actual = _call(exercise, function, case)
        expected = reference(*case.args, **case.kwargs)
        if _close(expected, actual, rtol, atol):
            continue
        hints = []
        for mistake in mistakes:
            try:
                wrong = mistake.implementation(*case.args, **case.kwargs)
            except Exception:
                continue
            if _close(wrong, actual, rtol, atol) and not _close(wrong, expected, rtol, atol):
                hints.append(f"Likely mistake ({mistake.name}): {mistake.hint}")
        where = f" for {case.description}" if case.description else ""
        message = (f"Exercise `{exercise}`: wrong result{where}.\n  expected: {_describe(expected)}\n"
                   f"  got:      {_describe(actual)}")
        if hints:
            message += "\n  " + "\n  ".join(hints)
        else:
            message += "\n  Re-read the formula in the text above; compare shapes and which axis you reduce over."
        print(message)
        raise CheckFailed(message)
    if not quiet:
        print("All tests passed.")
    return True


def _tf():
    import tensorflow as tf

    return tf


def _activations(seed: int, shape=(1, 4, 4, 3)) -> np.ndarray:
    """Deterministic random activations for the checks."""
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)
