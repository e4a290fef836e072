"""Comparing a learner's result with the expected one, and saying what differs.

* :func:`close`: equal within tolerances, with the same structure (a tuple stays a tuple of the
  same length, an array keeps its shape, a bool or a string must be one);
* :func:`describe`: a short text of a value for "expected: ... / got: ..." lines;
* :func:`type_problem`: one sentence about a wrong *type* or *shape*, or None when the kinds fit:
  an array where one number is expected, a float where an int is, one value where a tuple is;
* :func:`type_name`: ``tf.Tensor``, ``numpy.ndarray``, ``float`` ... (never an internal class name).

Every function accepts values as the learner's function returned them (tensors, NumPy values) and
as an observation reads them back (:class:`~utils.checks.values.ObservedTensor`).

Example:
    >>> import numpy as np
    >>> close(0.5, np.float32(0.5), rtol=1e-4, atol=1e-5), close(0.5, np.array([0.5]), 1e-4, 1e-5)
    (True, False)
    >>> type_problem(0.5, np.array([0.5]))
    'expected one number (a float), got an array of shape (1,)'
    >>> type_problem(10, 10.0)
    'expected an int, got the float 10.0'
    >>> describe((0.5, True))
    '(0.5, True)'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from utils.checks.values import ObservedTensor, OpaqueValue


def to_numpy(value: Any):
    """Tensors (also inside tuples and lists) as NumPy values; anything else unchanged."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, (tuple, list)):
        return type(value)(to_numpy(item) for item in value)
    return value


def close(expected: Any, actual: Any, rtol: float, atol: float) -> bool:
    """``actual`` equals ``expected`` within ``rtol``/``atol``, with the same structure and shape."""
    expected, actual = to_numpy(expected), to_numpy(actual)
    if isinstance(expected, (tuple, list)):
        return (
            isinstance(actual, (tuple, list))
            and len(actual) == len(expected)
            and all(close(e, a, rtol, atol) for e, a in zip(expected, actual))
        )
    if isinstance(expected, (str, bool, np.bool_)) or expected is None:
        return type(actual) in (type(expected), np.bool_, bool) and actual == expected
    if isinstance(actual, (str, bool, np.bool_)) or actual is None:
        return False
    try:
        expected_array = np.asarray(expected, dtype=np.float64)
        actual_array = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if expected_array.shape != actual_array.shape:
        return False
    return bool(np.allclose(actual_array, expected_array, rtol=rtol, atol=atol, equal_nan=True))


def describe(value: Any) -> str:
    """A short text of ``value``: a number, a small array with its shape, or an array's shape and mean."""
    value = to_numpy(value)
    if isinstance(value, np.ndarray):
        if value.ndim == 0 and value.dtype.kind in "biuf":
            return f"{value.item():.6g}" if value.dtype.kind == "f" else repr(value.item())
        if value.size <= 6:
            return f"array {np.array2string(value, precision=5)} (shape {value.shape})"
        if value.dtype.kind not in "biuf":
            return f"array of shape {value.shape}, dtype {value.dtype}"
        return f"array of shape {value.shape}, dtype {value.dtype}, mean {value.mean():.5g}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe(item) for item in value) + ")"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return repr(value)


def type_name(value: Any) -> str:
    """``tf.Tensor``, ``tf.Variable``, ``numpy.ndarray``, ``numpy.float32``, ``float``, ``int`` ..."""
    if isinstance(value, ObservedTensor):
        return value.kind
    if isinstance(value, OpaqueValue):
        return value.type_name
    module = type(value).__module__ or ""
    if module.startswith("tensorflow") and hasattr(value, "dtype") and hasattr(value, "shape"):
        return "tf.Tensor" if not hasattr(value, "assign") else "tf.Variable"
    if module.startswith("keras"):
        return f"keras {type(value).__name__}"
    if module == "numpy":
        return f"numpy.{type(value).__name__}"
    return type(value).__name__


def is_tensor(value: Any) -> bool:
    """A TensorFlow tensor (or one read back from an observation)."""
    if isinstance(value, ObservedTensor):
        return value.kind == "tf.Tensor"
    return isinstance(value, tf.Tensor)


_ORDINALS = ("1st", "2nd", "3rd")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _number_kind(value: Any) -> str:
    """ "an int" or "a float" for a number or a 0-d array."""
    kind = np.asarray(value).dtype.kind
    return "an int" if kind in "iu" else "a float"


def _scalar_problem(expected: Any, actual: Any, actual_plain: Any) -> str | None:
    """Expected one number: ``actual`` must be one number too, an int where an int is expected."""
    if isinstance(actual_plain, (str, bool, np.bool_, dict)) or actual_plain is None:
        return f"expected a number or an array; got the {type_name(actual)} {actual_plain!r}."
    if isinstance(actual_plain, (tuple, list)):
        return (
            f"return ONE number (a scalar); your function returned a {type(actual_plain).__name__} of "
            f"{len(actual_plain)} values."
        )
    if isinstance(actual_plain, np.ndarray) and actual_plain.ndim > 0:
        what = "an array" if type_name(actual) == "numpy.ndarray" else f"a {type_name(actual)}"
        return f"expected one number ({_number_kind(expected)}), got {what} of shape {actual_plain.shape}"
    if not (_is_number(actual_plain) or isinstance(actual_plain, np.ndarray)):
        return f"expected one number ({_number_kind(expected)}); got the {type_name(actual)} {actual_plain!r}."
    if _number_kind(expected) == "an int" and np.asarray(actual_plain).dtype.kind == "f":
        return f"expected an int, got the {type_name(actual)} {float(np.asarray(actual_plain))!r}"
    return None


def type_problem(expected: Any, actual: Any) -> str | None:
    """A sentence about a wrong *type*, structure or shape of ``actual``, or None when the kinds fit.

    Values are not compared: a float where an int is expected is a problem even when it equals it.
    """
    expected, actual_plain = to_numpy(expected), to_numpy(actual)
    if isinstance(expected, (tuple, list)):
        return _sequence_problem(expected, actual, actual_plain)
    if isinstance(expected, (bool, np.bool_)):
        if isinstance(actual_plain, (bool, np.bool_)):
            return None
        return (
            f"expected a bool (True or False); got the {type_name(actual)} {actual_plain!r}. Use a "
            f"comparison such as `dist < THRESHOLD` (already True or False), not 1/0 or a string."
        )
    if isinstance(expected, str) or expected is None:
        if type(actual_plain) is type(expected) or (isinstance(expected, str) and isinstance(actual_plain, str)):
            return None
        return f"expected the {type_name(expected)} {expected!r}; got the {type_name(actual)} {actual_plain!r}."
    if _is_number(expected) or (isinstance(expected, np.ndarray) and expected.ndim == 0):
        return _scalar_problem(expected, actual, actual_plain)
    if isinstance(actual_plain, (str, bool, np.bool_, dict)) or actual_plain is None:
        return f"expected a number or an array; got the {type_name(actual)} {actual_plain!r}."
    shape = np.shape(actual_plain) if isinstance(actual_plain, (np.ndarray, list, tuple)) else None
    if isinstance(expected, np.ndarray) and shape is not None and shape != expected.shape:
        return f"expected an array of shape {expected.shape}, got shape {shape}"
    return None


def _sequence_problem(expected, actual, actual_plain) -> str | None:
    if not isinstance(actual_plain, (tuple, list)):
        return (
            f"return a tuple of {len(expected)} values, {describe(expected)}; your function "
            f"returned one {type_name(actual)}."
        )
    if len(actual_plain) != len(expected):
        return (
            f"return exactly {len(expected)} values, in this order: {describe(expected)}; yours "
            f"returned {len(actual_plain)}."
        )
    actual_items = actual if isinstance(actual, (tuple, list)) else actual_plain
    for index, (item_expected, item_actual) in enumerate(zip(expected, actual_items)):
        problem = type_problem(item_expected, item_actual)
        if problem:
            position = _ORDINALS[index] if index < len(_ORDINALS) else f"{index + 1}th"
            return f"the {position} returned value: {problem}"
    return None
