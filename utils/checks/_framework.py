"""What the checks share: cases, classic mistakes, comparing values, and what an error says.

* :class:`Case` (one input of an exercise) and :class:`Mistake` (a deliberately wrong
  implementation with the hint that explains it);
* :func:`_close`, :func:`_describe`, :func:`_type_problem`: compare a result with the expected
  value (with tolerances) and say what differs, including a wrong *type* or structure;
* :func:`error_record` (kernel side) turns an exception raised by the learner's code into plain
  data: its type, its cleaned first line (:func:`clean_error_text` drops TensorFlow's
  ``{{function_node ...}}`` prefixes), the learner's line it came from, whether it is the
  learner's own ``NotImplementedError`` stub (one raised by TensorFlow or NumPy underneath, e.g.
  "Cannot convert a symbolic tf.Tensor to a numpy array", is not) and whether it looks like NumPy
  code meeting symbolic tensors; :func:`crash_text` and :func:`stub_text` (judge side) turn
  such a record into one short message;
* :func:`run_in_tf_function` and :func:`run_in_keras_model` run a learner's function compiled,
  on symbolic tensors, as the course's training step or model-building cell will.

Example:
    >>> clean_error_text("{{function_node __wrapped__Sub_device_/job:localhost}} Incompatible shapes: [2] vs. [3] [Op:Sub] name: ")
    'Incompatible shapes: [2] vs. [3] [Op:Sub]'
    >>> _describe((0.5, True))
    '(0.5, True)'
"""

from __future__ import annotations

import dataclasses
import re
import sysconfig
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from utils.checks import _serialize

#: The hint for NumPy (or other non-TensorFlow code) in an exercise that runs in a compiled step.
GRAPH_HINT = "use tf.* operations: NumPy cannot run inside the compiled training step"

#: The same for a function that a notebook calls on the symbolic inputs of a Keras model.
KERAS_HINT = ("use keras.ops operations (keras.ops.abs, keras.ops.square ...): NumPy cannot run on the "
              "symbolic keras.Input tensors of a Keras model, and neither can tf.* functions, because "
              "Keras 3's symbolic tensors are not TensorFlow tensors")

#: How a check can also run the function: not at all, inside tf.function, or on keras.Input tensors.
COMPILED_MODES = (None, "tf.function", "keras")


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
        if value.ndim == 0 and value.dtype.kind in "biuf":
            return f"{value.item():.6g}" if value.dtype.kind == "f" else repr(value.item())
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
    if isinstance(value, _serialize.ObservedTensor):
        return value.kind
    if isinstance(value, _serialize.OpaqueValue):
        return value.type_name
    module = type(value).__module__ or ""
    if module.startswith("tensorflow") and hasattr(value, "dtype") and hasattr(value, "shape"):
        return "tf.Tensor" if not hasattr(value, "assign") else "tf.Variable"
    if module.startswith("keras"):
        return f"keras {type(value).__name__}"
    if module == "numpy":
        return f"numpy.{type(value).__name__}"
    return type(value).__name__


def _is_tensor(value: Any) -> bool:
    if isinstance(value, _serialize.ObservedTensor):
        return value.kind == "tf.Tensor"
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


#: TensorFlow's internal op prefix, e.g. ``{{function_node __wrapped__Sub_device_/job:localhost/...}}``.
_TF_NOISE = re.compile(r"\{\{function_node [^}]*\}\}\s*")
_SKIPPED_LINES = ("Graph execution error:", "in user code:", "Detected at node")


def clean_error_text(text: str, limit: int = 220) -> str:
    """The informative first line of an error's text: TensorFlow's ``{{function_node ...}}``
    prefixes, "Graph execution error:" headers and ``name:`` tails removed, whitespace collapsed."""
    text = _TF_NOISE.sub("", str(text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line and not any(line.startswith(skip) for skip in _SKIPPED_LINES)
             and not line.startswith("File \"")]
    line = lines[0] if lines else ""
    line = re.sub(r"\s*name:\s*$", "", line)
    return line if len(line) <= limit else line[:limit - 3] + "..."


def error_record(exercise: str, error: BaseException) -> dict:
    """What the kernel records about an exception raised by the learner's code (plain JSON data).

    Keys: ``type`` (class name of the original error), ``message`` (its cleaned first line),
    ``stub`` (the exercise whose own ``NotImplementedError`` stub was raised, or None), ``where``
    (``[function, line, source]`` of the innermost learner frame, or None), ``in_graph`` (raised
    while TensorFlow traced a function), ``numpy_in_graph`` and ``tensor_as_array`` (symptoms of
    NumPy code meeting symbolic tensors), ``keras_tensor`` (a Keras symbolic tensor was involved).
    """
    root = _root_error(error)
    text = str(root)
    stub = None
    if isinstance(error, NotImplementedError) and _raised_by_learner(error):
        named = _EXERCISE_IN_MESSAGE.search(text)
        stub = named.group(1) if named else exercise
    location = _learner_location(error)
    where = None
    if location:
        name, line, code = location
        where = [name[4:] if name.startswith("tf__") else name, int(line), code[:160]]
    in_graph = getattr(error, "ag_error_metadata", None) is not None
    return {"type": type(root).__name__[:80], "message": clean_error_text(text) or clean_error_text(str(error)),
            "stub": stub, "where": where, "in_graph": in_graph,
            "numpy_in_graph": bool(in_graph and _looks_like_numpy_in_graph(error)),
            "tensor_as_array": any(symptom in text for symptom in _TENSOR_AS_ARRAY),
            "keras_tensor": "KerasTensor" in text}


def stub_text(exercise: str, record: dict) -> str:
    """The "not implemented yet" message for a recorded stub."""
    stub = record["stub"]
    called_by = f" (`{exercise}` calls it)" if stub != exercise else ""
    return (f"Exercise `{stub}` is not implemented yet{called_by}: replace the `raise NotImplementedError` "
            f"line with your code, run that cell, then run this check again.")


def crash_text(exercise: str, record: dict, description: str = "", compiled: str | None = None,
               hint: str | None = None) -> str:
    """One short message for a recorded crash of the learner's code (see :func:`error_record`).

    Args:
        exercise: the exercise being checked.
        record: the error record.
        description: the case, e.g. "A of shape (3, 2)".
        compiled: ``"tf.function"`` or ``"keras"`` when the check ran the function compiled (it
            worked when called directly); None when it was called directly.
        hint: an exercise-specific hint that explains this error, shown instead of the generic ones.
    """
    elsewhere, at = None, ""
    if record.get("where"):
        name, line, code = record["where"]
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
    message = f"{head}\n  {record['type']}: {record['message']}"
    if hint:
        return message + f"\n  {hint}"
    if compiled == "keras" or record.get("keras_tensor"):
        message += f"\n  Likely mistake (NumPy or tf.* on Keras tensors): {KERAS_HINT}."
    elif compiled is not None or record.get("numpy_in_graph") or record.get("tensor_as_array"):
        culprit = f"NumPy in `{elsewhere}`" if elsewhere else "NumPy inside a TensorFlow exercise"
        message += f"\n  Likely mistake ({culprit}): {GRAPH_HINT}."
        if elsewhere and compiled is None and record.get("in_graph"):
            message += (f" Fix `{elsewhere}` (its own check now runs it inside tf.function too), then run "
                        f"this check again.")
    return message


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


def _tf():
    import tensorflow as tf  # deferred: TensorFlow is slow to import

    return tf


def _activations(seed: int, shape=(1, 4, 4, 3)) -> np.ndarray:
    """Deterministic random activations for the checks."""
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)
