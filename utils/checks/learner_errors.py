"""What an error raised by the learner's code says: recorded in the kernel, told in one short message.

* :func:`error_record` (kernel side) turns an exception into plain data: its type, its cleaned
  first line (:func:`clean_error_text` drops TensorFlow's ``{{function_node ...}}`` and
  ``{{node ...}}`` prefixes and terminal escapes), the learner's line it came from, whether it is
  the learner's own ``NotImplementedError`` stub (one raised by TensorFlow or NumPy underneath,
  e.g. "Cannot convert a symbolic tf.Tensor to a numpy array", is not), and whether NumPy really
  took part (a NumPy frame on the stack, NumPy on the learner's line, or an error about a NumPy
  conversion);
* :func:`crash_text` and :func:`stub_text` (judge side) turn such a record into one short
  message. A hint is added only where the record shows its cause: NumPy's where NumPy took part,
  Keras's where a Keras symbolic tensor did; otherwise the message says what is known (the
  error, the line, the case).

Example:
    >>> clean_error_text("{{function_node __wrapped__Sub_device_/job:localhost}} Incompatible shapes: [2] vs. [3] [Op:Sub] name: ")
    'Incompatible shapes: [2] vs. [3] [Op:Sub]'
    >>> clean_error_text("\\x1b[31m{{node Mul}} Cannot convert 4.0 to EagerTensor of dtype int32\\x1b[0m")
    'Cannot convert 4.0 to EagerTensor of dtype int32'
"""

from __future__ import annotations

import re
import sysconfig
import traceback
from pathlib import Path

#: The hint for NumPy (or other non-TensorFlow code) in an exercise that runs in a compiled step.
GRAPH_HINT = "use tf.* operations: NumPy cannot run inside the compiled training step"

#: The same for a function that a notebook calls on the symbolic inputs of a Keras model.
KERAS_HINT = (
    "use keras.ops operations (keras.ops.abs, keras.ops.square ...): NumPy cannot run on the "
    "symbolic keras.Input tensors of a Keras model, and neither can tf.* functions, because "
    "Keras 3's symbolic tensors are not TensorFlow tensors"
)

#: The keys of an error record, with their types (the observation's reader checks them).
ERROR_KEYS = {
    "type": str,
    "message": str,
    "stub": (str, type(None)),
    "where": (list, type(None)),
    "in_graph": bool,
    "numpy": bool,
    "keras_tensor": bool,
}

_UTILS_ROOT = str(Path(__file__).resolve().parents[1])
_LIBRARY_ROOTS = tuple(
    sorted(
        {
            str(Path(path).resolve())
            for key, path in sysconfig.get_paths().items()
            if key in ("stdlib", "platstdlib", "purelib", "platlib")
        }
    )
)
_USER_CODE_FRAME = re.compile(
    r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>[^\s*]+)[ \t]*\*?[ \t]*\n'
    r"[ \t]*(?P<code>[^\n]*)"
)
_EXERCISE_IN_MESSAGE = re.compile(r"Exercise `(\w+)`")
_NUMPY_IN_CODE = re.compile(r"\bnp\s*\.|\bnumpy\b|\.numpy\s*\(")
_NUMPY_CONVERSION = ("numpy array", "attribute 'numpy'", "numpy() is only available")


def _is_library_file(filename: str) -> bool:
    """True for Python's own files, installed packages (TensorFlow, NumPy, Keras) and ``utils/``."""
    if filename.startswith("<frozen") or "site-packages" in filename or "dist-packages" in filename:
        return True
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return resolved.startswith(_LIBRARY_ROOTS + (_UTILS_ROOT,))


def root_error(error: BaseException) -> BaseException:
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
    frames = traceback.extract_tb(root_error(error).__traceback__)
    return bool(frames) and not _is_library_file(frames[-1].filename)


def _learner_location(error: BaseException) -> tuple[str, int, str] | None:
    """``(function name, line number, source line)`` of the innermost learner frame of ``error``."""
    for candidate in (error, root_error(error)):
        text = str(candidate)
        if "in user code:" in text:  # a tf.function error: TensorFlow lists the original source lines
            frames = [match for match in _USER_CODE_FRAME.finditer(text) if not _is_library_file(match.group("file"))]
            if frames:
                last = frames[-1]
                return last.group("name"), int(last.group("line")), last.group("code").strip()
    frames = [
        frame
        for frame in traceback.extract_tb(root_error(error).__traceback__)
        if not _is_library_file(frame.filename) and "__autograph_generated_file" not in frame.filename
    ]
    if not frames:
        return None
    frame = frames[-1]
    return frame.name, frame.lineno or 0, (frame.line or "").strip()


def _numpy_took_part(error: BaseException, code: str) -> bool:
    """NumPy is on the stack of the original error, on the learner's line, or named by the error as
    the conversion that failed ("... to a numpy array", "... has no attribute 'numpy'")."""
    root = root_error(error)
    if any("/numpy/" in frame.filename.replace("\\", "/") for frame in traceback.extract_tb(root.__traceback__)):
        return True
    return bool(_NUMPY_IN_CODE.search(code)) or any(words in str(root) for words in _NUMPY_CONVERSION)


#: TensorFlow's internal prefixes (``{{function_node __wrapped__Sub_device_/job:...}}``, ``{{node Mul}}``)
#: and terminal escapes.
_TF_NOISE = re.compile(r"\{\{(?:function_)?node [^}]*\}\}\s*")
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")
_SKIPPED_LINES = ("Graph execution error:", "in user code:", "Detected at node")


def clean_error_text(text: str, limit: int = 220) -> str:
    """The informative first line of an error's text: TensorFlow's ``{{function_node ...}}`` and
    ``{{node ...}}`` prefixes, terminal escapes, "Graph execution error:" headers and ``name:``
    tails removed, whitespace collapsed, cut to ``limit`` characters."""
    text = _TF_NOISE.sub("", _ESCAPES.sub("", str(text).replace("\r", "\n").replace("\t", " ")))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [
        line
        for line in lines
        if line and not any(line.startswith(skip) for skip in _SKIPPED_LINES) and not line.startswith('File "')
    ]
    line = lines[0] if lines else ""
    line = re.sub(r"\s*name:\s*$", "", line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def error_record(exercise: str, error: BaseException) -> dict:
    """What the kernel records about an exception raised by the learner's code (plain JSON data).

    Keys (:data:`ERROR_KEYS`): ``type`` (class name of the original error), ``message`` (its
    cleaned first line), ``stub`` (the exercise whose own ``NotImplementedError`` stub was raised,
    or None), ``where`` (``[function, line, source]`` of the innermost learner frame, or None),
    ``in_graph`` (raised while TensorFlow traced a function), ``numpy`` (NumPy took part, see
    above), ``keras_tensor`` (the error names a Keras symbolic tensor).
    """
    root = root_error(error)
    text = str(root)
    stub = None
    if isinstance(error, NotImplementedError) and _raised_by_learner(error):
        named = _EXERCISE_IN_MESSAGE.search(text)
        stub = named.group(1) if named else exercise
    location = _learner_location(error)
    where = None
    if location:
        name, line, code = location
        where = [name[4:] if name.startswith("tf__") else name, int(line), clean_error_text(code, 160)]
    return {
        "type": type(root).__name__[:80],
        "message": clean_error_text(text) or clean_error_text(str(error)),
        "stub": stub,
        "where": where,
        "in_graph": getattr(error, "ag_error_metadata", None) is not None,
        "numpy": _numpy_took_part(error, where[2] if where else ""),
        "keras_tensor": "KerasTensor" in text,
    }


def stub_text(exercise: str, record: dict) -> str:
    """The "not implemented yet" message for a recorded stub."""
    stub = record["stub"]
    called_by = f" (`{exercise}` calls it)" if stub != exercise else ""
    return (
        f"Exercise `{stub}` is not implemented yet{called_by}: replace the `raise NotImplementedError` "
        f"line with your code, run that cell, then run this check again."
    )


def crash_text(
    exercise: str, record: dict, description: str = "", compiled: str | None = None, hint: str | None = None
) -> str:
    """One short message for a recorded crash of the learner's code (see :func:`error_record`).

    Args:
        exercise: the exercise being checked.
        record: the error record.
        description: the case, e.g. "A of shape (3, 2)".
        compiled: ``"tf.function"`` or ``"keras"`` when the check ran the function compiled (it
            worked when called directly); None when it was called directly.
        hint: an exercise-specific hint whose cause the record shows, used instead of the generic ones.
    """
    elsewhere, at = None, ""
    if record.get("where"):
        name, line, code = record["where"]
        if name != exercise and not name.startswith("<"):
            elsewhere = name
        at = f" at line {line}: `{code}`" if code else f" at line {line}"
    for_case = f" for {description}" if description else ""
    if compiled == "tf.function":
        head = (
            f"Exercise `{exercise}` gives the right answer when called directly, but fails inside "
            f"tf.function (as the compiled training step calls it){for_case}{at}:"
        )
    elif compiled == "keras":
        head = (
            f"Exercise `{exercise}` gives the right answer on arrays, but fails on the symbolic "
            f"keras.Input tensors of a Keras model (as the model-building cell calls it){for_case}{at}:"
        )
    elif elsewhere:
        head = f"Check of `{exercise}`: your `{elsewhere}` raised an error{at}{for_case}:"
    else:
        head = f"Exercise `{exercise}` raised an error{at}{for_case}:"
    message = f"{head}\n  {record['type']}: {record['message']}"
    if hint:
        return message + f"\n  {hint}"
    if compiled == "keras" or record.get("keras_tensor"):
        message += f"\n  Likely mistake (NumPy or tf.* on Keras tensors): {KERAS_HINT}."
    elif record.get("numpy") and (compiled is not None or record.get("in_graph")):
        culprit = f"NumPy in `{elsewhere}`" if elsewhere else "NumPy inside a TensorFlow exercise"
        message += f"\n  Likely mistake ({culprit}): {GRAPH_HINT}."
        if elsewhere and compiled is None:
            message += (
                f" Fix `{elsewhere}` (its own check now runs it inside tf.function too), then run this check again."
            )
    return message
