"""Exercise checks with mistake-specific hints, shared by the notebooks, the tests and the grader.

A check runs the learner's function on a few inputs and compares each result with the project's
reference implementation (with tolerances). When a result is wrong, it also runs a small set of
*classic mistakes* — deliberately wrong implementations, each with the hint written for it — and
names the one that explains the learner's results best (see :func:`check_function`). So a hint
is given only when the evidence points to that mistake; otherwise the check reports what was
expected and what came back.

Beyond the values, a check can require what the rest of the notebook relies on:

* ``tensor_result=True``: the result must be a ``tf.Tensor`` (the course's NST and triplet-loss
  exercises run inside a compiled training step, where NumPy values are useless);
* ``compiled="tf.function"``: the function must also give the same answer inside
  ``tf.function``, on symbolic tensors, as the compiled training step will call it;
* ``compiled="keras"``: the function must also work on symbolic ``keras.Input`` tensors inside a
  Keras model, as the notebook's model-building cell will call it.

A failed check raises :class:`utils.errors.CheckFailed` with ONE short message (what was expected,
what came back, the hint); IPython shows it without a traceback. A learner function that still
raises its own ``NotImplementedError`` stub produces :class:`ExerciseNotImplemented` ("Exercise
`name` is not implemented yet ..."); a ``NotImplementedError`` raised by TensorFlow or NumPy
underneath (for example "Cannot convert a symbolic tf.Tensor to a numpy array") is not a stub:
it is reported as the learner's error, with the line it came from.

Example:
    >>> def reference(x):
    ...     return 2 * x
    >>> check_function("double", lambda x: x + x, reference, [Case((3,))])
    All tests passed.
    >>> try:
    ...     check_function("double", lambda x: x * x, reference, [Case((3,), description="x = 3")],
    ...                    [Mistake("squared", "multiply by 2, do not square.", lambda x: x ** 2)])
    ... except CheckFailed as failure:
    ...     print(failure)
    Exercise `double`: wrong result for x = 3.
      expected: 6
      got:      9
      Likely mistake (squared): multiply by 2, do not square.
"""

from __future__ import annotations

import dataclasses
import re
import sysconfig
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from utils.errors import CheckFailed, ExerciseCrashed, ExerciseNotImplemented

#: The hint for NumPy (or other non-TensorFlow code) in an exercise that runs in a compiled step.
GRAPH_HINT = "use tf.* operations: NumPy cannot run inside the compiled training step"

#: The same for a function that a notebook calls on the symbolic inputs of a Keras model.
KERAS_HINT = ("use keras.ops (or tf.*) operations: NumPy cannot run on the symbolic keras.Input "
              "tensors of a Keras model")

_COMPILED_MODES = (None, "tf.function", "keras")


@dataclasses.dataclass
class Mistake:
    """A classic wrong implementation and the hint that explains it.

    Attributes:
        name: short label, e.g. ``"missing axis=-1"``.
        hint: what to tell the learner when their results match this mistake.
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


def fail(message: str):
    """Raise :class:`CheckFailed` with ``message`` (IPython shows it as one short message)."""
    raise CheckFailed(message)


# ----------------------------------------------------------------------------------------------
# Comparing and describing values
# ----------------------------------------------------------------------------------------------

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
    if isinstance(actual, (str, bool, np.bool_)) or actual is None:
        return False
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


def _type_name(value: Any) -> str:
    """``tf.Tensor``, ``numpy.ndarray``, ``numpy.float32``, ``float``, ``int`` ..."""
    module = type(value).__module__ or ""
    if module.startswith("tensorflow") and hasattr(value, "dtype") and hasattr(value, "shape"):
        return "tf.Tensor" if not hasattr(value, "assign") else "tf.Variable"
    if module.startswith("keras"):
        return f"keras {type(value).__name__}"
    if module == "numpy":
        return f"numpy.{type(value).__name__}"
    return type(value).__name__


def _is_tensor(value: Any) -> bool:
    tf = _tf()
    return isinstance(value, tf.Tensor)


_ORDINALS = ("1st", "2nd", "3rd")


def _type_problem(expected: Any, actual: Any) -> str | None:
    """A sentence about a wrong *type* or structure of ``actual``, or None when the types fit."""
    expected, actual_plain = _to_numpy(expected), _to_numpy(actual)
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual_plain, (tuple, list)):
            return (f"return a tuple of {len(expected)} values, {_describe(expected)}; your function "
                    f"returned one {_type_name(actual)}.")
        if len(actual_plain) != len(expected):
            return (f"return exactly {len(expected)} values, in this order: {_describe(expected)}; yours "
                    f"returned {len(actual_plain)}.")
        for index, (item_expected, item_actual) in enumerate(zip(expected, actual_plain)):
            problem = _type_problem(item_expected, item_actual)
            if problem:
                position = _ORDINALS[index] if index < len(_ORDINALS) else f"{index + 1}th"
                return f"the {position} returned value: {problem}"
        return None
    if isinstance(expected, (bool, np.bool_)):
        if isinstance(actual_plain, (bool, np.bool_)):
            return None
        return (f"expected a bool (True or False); got the {_type_name(actual)} {actual_plain!r}. Use a "
                f"comparison such as `dist < THRESHOLD` (already True or False), not 1/0 or a string.")
    if isinstance(expected, str) or expected is None:
        if type(actual_plain) is type(expected):
            return None
        return f"expected the {_type_name(expected)} {expected!r}; got the {_type_name(actual)} {actual_plain!r}."
    if isinstance(actual_plain, (str, bool, np.bool_, dict)) or actual_plain is None:
        return f"expected a number or an array; got the {_type_name(actual)} {actual_plain!r}."
    if isinstance(actual_plain, (tuple, list)) and np.ndim(expected) == 0:
        return (f"return ONE number (a scalar); your function returned a {type(actual_plain).__name__} of "
                f"{len(actual_plain)} values.")
    return None


# ----------------------------------------------------------------------------------------------
# Where an error was raised: the learner's stub, the learner's code, or a library underneath
# ----------------------------------------------------------------------------------------------

_UTILS_ROOT = str(Path(__file__).resolve().parents[1])
_LIBRARY_ROOTS = tuple(sorted({str(Path(path).resolve()) for key, path in sysconfig.get_paths().items()
                               if key in ("stdlib", "platstdlib", "purelib", "platlib")}))
_USER_CODE_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>[^\s*]+)[ \t]*\*?[ \t]*\n'
                              r'[ \t]*(?P<code>[^\n]*)')
_EXERCISE_IN_MESSAGE = re.compile(r"Exercise `(\w+)`")


def _is_library_file(filename: str) -> bool:
    """True for Python's own files, installed packages (TensorFlow, NumPy, Keras) and ``utils/``."""
    if filename.startswith("<frozen") or "site-packages" in filename or "dist-packages" in filename:
        return True
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return resolved.startswith(_LIBRARY_ROOTS + (_UTILS_ROOT,))


def _root_error(error: BaseException) -> BaseException:
    """The exception as first raised: TensorFlow re-raises errors from a ``tf.function`` as a copy
    (message prefixed by "in user code: ..."); the original is chained as its context."""
    root = error
    while getattr(root, "ag_error_metadata", None) is not None:
        inner = root.__cause__ or root.__context__
        if inner is None or type(inner) is not type(root):
            break
        root = inner
    return root


def _raised_by_learner(error: BaseException) -> bool:
    """True when the innermost frame of the original exception is the learner's code (a notebook
    cell, a test file, or TensorFlow's converted copy of the learner's function)."""
    frames = traceback.extract_tb(_root_error(error).__traceback__)
    return bool(frames) and not _is_library_file(frames[-1].filename)


def _learner_location(error: BaseException) -> tuple[str, int, str] | None:
    """``(function name, line number, source line)`` of the innermost learner frame of ``error``."""
    for candidate in (error, _root_error(error)):
        text = str(candidate)
        if "in user code:" in text:   # a tf.function error: TensorFlow lists the original source lines
            frames = [match for match in _USER_CODE_FRAME.finditer(text)
                      if not _is_library_file(match.group("file"))]
            if frames:
                last = frames[-1]
                return last.group("name"), int(last.group("line")), last.group("code").strip()
    frames = [frame for frame in traceback.extract_tb(_root_error(error).__traceback__)
              if not _is_library_file(frame.filename) and "__autograph_generated_file" not in frame.filename]
    if not frames:
        return None
    frame = frames[-1]
    return frame.name, frame.lineno or 0, (frame.line or "").strip()


def _first_line(error: BaseException, limit: int = 220) -> str:
    lines = [line.strip() for line in str(_root_error(error)).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return text if len(text) <= limit else text[:limit - 3] + "..."


_GRAPH_SYMPTOMS = ("symbolic", "numpy", "NumPy", "KerasTensor", "SymbolicTensor", "EagerTensor",
                   "OperatorNotAllowedInGraphError", "Graph execution", "inside a tf.function")


#: Words in an error raised when NumPy-style code meets a TensorFlow or Keras tensor (``A.T``,
#: ``tensor.numpy()`` inside tf.function, ``np.abs`` of a keras.Input ...).
_TENSOR_AS_ARRAY = ("EagerTensor", "SymbolicTensor", "symbolic", "KerasTensor")


def _looks_like_numpy_in_graph(error: BaseException) -> bool:
    root = _root_error(error)
    if any(symptom in str(root) or symptom in type(root).__name__ for symptom in _GRAPH_SYMPTOMS):
        return True
    return any("/numpy/" in frame.filename for frame in traceback.extract_tb(root.__traceback__))


def not_implemented_message(exercise: str, error: BaseException) -> str | None:
    """The "not implemented yet" message when ``error`` is a learner's own stub, else None.

    A ``NotImplementedError`` is the learner's stub when it was raised by the learner's code
    (the generated student notebooks raise ``NotImplementedError("Exercise `name`: ...")``); one
    raised inside TensorFlow or NumPy is an error in the learner's code and returns None.
    """
    if not isinstance(error, NotImplementedError) or not _raised_by_learner(error):
        return None
    named = _EXERCISE_IN_MESSAGE.search(str(_root_error(error)))
    stub = named.group(1) if named else exercise
    called_by = f" (`{exercise}` calls it)" if stub != exercise else ""
    return (f"Exercise `{stub}` is not implemented yet{called_by}: replace the `raise NotImplementedError` "
            f"line with your code, run that cell, then run this check again.")


def crash_message(exercise: str, error: BaseException, description: str = "", compiled: str | None = None) -> str:
    """One short message for an exception raised by the learner's code (never a traceback).

    Args:
        exercise: the exercise being checked.
        error: what the learner's code raised.
        description: the case, e.g. "A of shape (3, 2)".
        compiled: ``"tf.function"`` or ``"keras"`` when the check itself ran the function compiled
            (it worked when called directly); None when it was called directly.
    """
    location = _learner_location(error)
    root = _root_error(error)
    elsewhere = None
    at = ""
    if location:
        name, line, code = location
        name = name[4:] if name.startswith("tf__") else name
        if name != exercise and not name.startswith("<"):
            elsewhere = name
        at = f" at line {line}: `{code}`" if code else f" at line {line}"
    for_case = f" for {description}" if description else ""
    if compiled == "tf.function":
        head = (f"Exercise `{exercise}` gives the right answer when called directly, but fails inside "
                f"tf.function (as the compiled training step calls it){for_case}{at}:")
    elif compiled == "keras":
        head = (f"Exercise `{exercise}` gives the right answer on arrays, but fails on the symbolic "
                f"keras.Input tensors of a Keras model (as the model-building cell calls it){for_case}{at}:")
    elif elsewhere:
        head = f"Check of `{exercise}`: your `{elsewhere}` raised an error{at}{for_case}:"
    else:
        head = f"Exercise `{exercise}` raised an error{at}{for_case}:"
    message = f"{head}\n  {type(root).__name__}: {_first_line(error)}"
    in_graph = compiled is not None or getattr(error, "ag_error_metadata", None) is not None
    if compiled == "keras" or "KerasTensor" in str(root):
        message += f"\n  Likely mistake (NumPy on Keras tensors): {KERAS_HINT}."
    elif (compiled is not None or (in_graph and _looks_like_numpy_in_graph(error))
          or any(symptom in str(root) for symptom in _TENSOR_AS_ARRAY)):
        culprit = f"NumPy in `{elsewhere}`" if elsewhere else "NumPy inside a TensorFlow exercise"
        message += f"\n  Likely mistake ({culprit}): {GRAPH_HINT}."
        if elsewhere and compiled is None and in_graph:
            message += (f" Fix `{elsewhere}` (its own check now runs it inside tf.function too), then run "
                        f"this check again.")
    return message


def call_learner(exercise: str, function: Callable, case: Case):
    """Call the learner's function on one case; a stub or a crash becomes one short CheckFailed."""
    try:
        return function(*case.args, **case.kwargs)
    except CheckFailed:
        raise
    except Exception as error:  # the learner's code raised: say what and where, briefly
        stub = not_implemented_message(exercise, error)
        if stub:
            raise ExerciseNotImplemented(stub) from None
        raise ExerciseCrashed(crash_message(exercise, error, case.description)) from None


# ----------------------------------------------------------------------------------------------
# Running the learner's function compiled
# ----------------------------------------------------------------------------------------------

def _graph_arguments(args: tuple) -> tuple:
    """Arrays and tensors (at any depth) and top-level numbers become tensors: inside tf.function
    they are symbolic, as in a compiled training step. Strings, None and nested numbers stay."""
    tf = _tf()

    def convert(value):
        if isinstance(value, np.ndarray) or isinstance(value, tf.Tensor):
            return tf.convert_to_tensor(value)
        return value

    converted = []
    for value in args:
        if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_)):
            converted.append(tf.constant(value, tf.float32))
        else:
            converted.append(tf.nest.map_structure(convert, value))
    return tuple(converted)


def run_in_tf_function(function: Callable, case: Case):
    """``function(*case.args, **case.kwargs)`` traced and run by ``tf.function`` (symbolic inputs)."""
    tf = _tf()
    kwargs = dict(case.kwargs)

    def traced(*args):
        return function(*args, **kwargs)

    return tf.function(traced)(*_graph_arguments(case.args))


def run_in_keras_model(function: Callable, case: Case):
    """Build a Keras model ``keras.Input``s -> ``function`` and run it on the case's arrays."""
    import keras  # deferred: Keras is slow to import

    arrays = [np.asarray(value, np.float32) for value in case.args]
    inputs = [keras.Input(shape=array.shape[1:], dtype="float32") for array in arrays]
    outputs = function(*inputs, **case.kwargs)
    model = keras.Model(inputs, outputs)
    return np.asarray(model(arrays, training=False))


def _run_compiled(exercise: str, function: Callable, case: Case, compiled: str):
    runner = run_in_tf_function if compiled == "tf.function" else run_in_keras_model
    try:
        return runner(function, case)
    except CheckFailed:
        raise
    except Exception as error:
        raise ExerciseCrashed(crash_message(exercise, error, case.description, compiled=compiled)) from None


# ----------------------------------------------------------------------------------------------
# The check
# ----------------------------------------------------------------------------------------------

_FAILED = object()


def _quietly(function: Callable, case: Case):
    try:
        return function(*case.args, **case.kwargs)
    except Exception:
        return _FAILED


def best_mistake(mistakes: Sequence[Mistake], cases: Sequence[Case], failing: int, expected: Any, actual: Any,
                 learner_result: Callable[[int], Any], rtol: float, atol: float) -> Mistake | None:
    """The classic mistake that explains the learner's results best, or None.

    A mistake is a candidate when it reproduces the learner's wrong result on the failing case
    (and differs from the right answer there). Among candidates, the one that reproduces the
    learner's results on the most cases wins; ties go to the mistake listed first, so lists put
    the more specific mistakes first.
    """
    ranked = []
    for order, mistake in enumerate(mistakes):
        wrong = _quietly(mistake.implementation, cases[failing])
        if wrong is _FAILED or not _close(wrong, actual, rtol, atol) or _close(wrong, expected, rtol, atol):
            continue
        agreements = 0
        for index, case in enumerate(cases):
            learner = learner_result(index)
            if learner is _FAILED:
                continue
            other = _quietly(mistake.implementation, case)
            if other is not _FAILED and _close(other, learner, rtol, atol):
                agreements += 1
        ranked.append((-agreements, order, mistake))
    return min(ranked, key=lambda item: item[:2])[2] if ranked else None


def check_function(exercise: str, function: Callable, reference: Callable, cases: Sequence[Case],
                   mistakes: Sequence[Mistake] = (), rtol: float = 1e-4, atol: float = 1e-5,
                   quiet: bool = False, *, tensor_result: bool = False, compiled: str | None = None,
                   generic_hint: str = "Re-read the formula in the text above; compare shapes and which "
                                       "axis you reduce over.") -> None:
    """Compare ``function`` with ``reference`` on every case; explain the first difference.

    For each case, in order: the learner's function is called; its result must equal the
    reference's (else the best-matching classic mistake's hint, a hint about types when the
    result has the wrong type or structure, or ``generic_hint``); with ``tensor_result`` it must
    be a ``tf.Tensor``; with ``compiled`` it must give the same result when run compiled.

    Args:
        exercise: the exercise's name, used in messages.
        function: the learner's implementation.
        reference: the project's correct implementation (same signature).
        cases: inputs to try.
        mistakes: classic wrong implementations with their hints, the more specific first.
        rtol, atol: tolerances for numeric results.
        quiet: do not print "All tests passed.".
        tensor_result: the result must be a ``tf.Tensor``.
        compiled: ``"tf.function"`` or ``"keras"``: also run the function inside ``tf.function``
            on symbolic tensors, or on ``keras.Input`` tensors inside a Keras model.
        generic_hint: the hint when no mistake and no type problem explains a wrong result.

    Returns:
        None (so a check cell does not echo a value); prints "All tests passed.".

    Raises:
        ExerciseNotImplemented: the function still raises its own ``NotImplementedError``.
        CheckFailed: a wrong result or a crash, with expected vs got and the matching hint.
    """
    if compiled not in _COMPILED_MODES:
        raise ValueError(f"compiled must be one of {_COMPILED_MODES}; got {compiled!r}")
    if not callable(function):
        fail(f"`{exercise}` should be a function; got {_type_name(function)}. Run the cell that defines it.")
    results: dict[int, Any] = {}

    def learner_result(index: int):
        if index not in results:
            results[index] = _quietly(function, cases[index])
        return results[index]

    for index, case in enumerate(cases):
        actual = call_learner(exercise, function, case)
        results[index] = actual
        expected = reference(*case.args, **case.kwargs)
        where = f" for {case.description}" if case.description else ""
        if not _close(expected, actual, rtol, atol):
            message = (f"Exercise `{exercise}`: wrong result{where}.\n  expected: {_describe(expected)}\n"
                       f"  got:      {_describe(actual)}")
            mistake = best_mistake(mistakes, cases, index, expected, actual, learner_result, rtol, atol)
            problem = None if mistake else _type_problem(expected, actual)
            if mistake:
                message += f"\n  Likely mistake ({mistake.name}): {mistake.hint}"
            elif problem:
                message += f"\n  Wrong type: {problem}"
            else:
                message += f"\n  {generic_hint}"
            fail(message)
        if tensor_result and not _is_tensor(actual):
            fail(f"Exercise `{exercise}`: the value is right{where}, but it is a {_type_name(actual)}; the course "
                 f"expects a tf.Tensor.\n  Likely mistake (NumPy instead of TensorFlow): {GRAPH_HINT} "
                 f"(tf.reduce_sum, tf.square, tf.matmul, tf.transpose, tf.maximum ... return tensors).")
        if compiled:
            compiled_result = _run_compiled(exercise, function, case, compiled)
            if not _close(expected, compiled_result, rtol, atol):
                inside = "inside tf.function" if compiled == "tf.function" else "inside a Keras model"
                hint = GRAPH_HINT if compiled == "tf.function" else KERAS_HINT
                fail(f"Exercise `{exercise}`: the right result when called directly, but not {inside}{where}.\n"
                     f"  expected: {_describe(expected)}\n  got:      {_describe(compiled_result)}\n"
                     f"  Likely mistake (Python or NumPy code that runs only once, when traced): {hint}.")
    if not quiet:
        print("All tests passed.")


def _tf():
    import tensorflow as tf  # deferred: TensorFlow is slow to import

    return tf


def _activations(seed: int, shape=(1, 4, 4, 3)) -> np.ndarray:
    """Deterministic random activations for the checks."""
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)
