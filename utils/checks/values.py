"""Values as plain JSON: what a learner's function returned, written in the kernel and read back strictly.

An :class:`Observation` crosses a process boundary in grading: the learner's kernel writes it
(:meth:`Observation.to_json`) and the grader's own process reads it back
(:meth:`Observation.from_json`) before judging it. The reader therefore trusts nothing: every key,
type, length, depth and array is checked, unknown content raises :class:`ObservationInvalid`, and
nothing is ever executed or unpickled (arrays travel as ``{"dtype", "shape", "data"}`` with the
raw bytes in base64, read back with ``numpy.frombuffer``).

Values are encoded by :func:`encode_value` into a small tagged JSON vocabulary:

* ``None``, ``bool``, ``int``, ``float`` (finite) and ``str`` as themselves; a non-finite float as
  ``{"$float": "nan" | "inf" | "-inf"}``;
* a NumPy scalar as ``{"$scalar": dtype, "value": ...}``, an array as ``{"$array": {"dtype",
  "shape", "data"}}``, a TensorFlow/Keras tensor as the same plus ``"kind"`` (``"tf.Tensor"``,
  ``"tf.Variable"``, ...);
* a tuple as ``{"$tuple": [...]}``, a list as ``{"$list": [...]}``, a dict with string keys as
  ``{"$dict": {...}}``;
* anything else as ``{"$object": type name, "repr": short repr}``; a value too large to record as
  ``{"$oversized": description}`` (judged as an error, never compared).

Example:
    >>> import numpy as np
    >>> text = encode_json((np.float32(0.5), "not recognized"))
    >>> text
    '{"$tuple":[{"$scalar":"float32","value":0.5},"not recognized"]}'
    >>> distance, identity = decode_value(decode_json(text))
    >>> type(distance).__name__, float(distance), identity
    ('float32', 0.5, 'not recognized')
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import numpy as np

from utils.errors import ObservationInvalid

#: The longest JSON text an observation may have (characters).
OBSERVATION_LIMIT = 2_000_000

#: Largest array (elements) recorded; bigger ones become an "$oversized" marker.
ARRAY_LIMIT = 250_000
#: Longest string recorded (characters); longer ones are cut and marked with "...".
STRING_LIMIT = 4_000
#: Deepest nesting of containers accepted when reading.
DEPTH_LIMIT = 24
#: Most items in one container.
ITEMS_LIMIT = 10_000

_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
)
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class ObservedTensor:
    """A tensor as the learner's function returned it, read back from an observation.

    ``kind`` is what it was in the kernel (``"tf.Tensor"``, ``"tf.Variable"``, ``"KerasTensor"``);
    ``numpy()`` gives its values, so comparisons treat it like the tensor it stands for.
    """

    def __init__(self, array: np.ndarray, kind: str):
        self.array = array
        self.kind = kind
        self.shape = array.shape
        self.dtype = array.dtype

    def numpy(self) -> np.ndarray:
        return self.array

    def __repr__(self) -> str:
        return f"<{self.kind} shape={self.shape} dtype={self.dtype}>"


def _tensor_kind(value: Any) -> str | None:
    module = type(value).__module__ or ""
    if not module.startswith(("tensorflow", "keras")):
        return None
    if not (hasattr(value, "dtype") and hasattr(value, "shape")):
        return None
    if module.startswith("keras"):
        return f"keras {type(value).__name__}"
    return "tf.Variable" if hasattr(value, "assign") else "tf.Tensor"


def _encode_array(array: np.ndarray) -> dict:
    if array.dtype.name not in _DTYPES:
        array = array.astype(np.float32 if array.dtype.kind in "fc" or "bfloat" in str(array.dtype) else np.float64)
    if array.size > ARRAY_LIMIT:
        return {"$oversized": f"an array of shape {tuple(array.shape)} ({array.size} values)"}
    array = np.array(array, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    return {
        "$array": {
            "dtype": array.dtype.name,
            "shape": [int(size) for size in array.shape],
            "data": base64.b64encode(array.tobytes()).decode("ascii"),
        }
    }


def encode_value(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON data (see the module's docstring); never raises."""
    try:
        if depth > DEPTH_LIMIT - 2:
            return {"$oversized": "a value nested too deeply"}
        if value is None or isinstance(value, (bool, str)):
            if isinstance(value, str) and len(value) > STRING_LIMIT:
                return value[: STRING_LIMIT - 3] + "..."
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return value if abs(value) < 2**63 else {"$object": "int", "repr": "a very large int"}
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": str(value)}
        if isinstance(value, np.generic):
            if isinstance(value, (np.bool_, np.integer, np.floating)) and value.dtype.name in _DTYPES:
                return {"$scalar": value.dtype.name, "value": encode_value(value.item(), depth + 1)}
            return encode_value(np.asarray(value), depth + 1)
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biuf":
                return {"$object": "numpy.ndarray", "repr": f"an array of dtype {value.dtype}"}
            return _encode_array(value)
        kind = _tensor_kind(value)
        if kind is not None:
            try:
                array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
            except Exception:
                return {"$object": kind, "repr": f"a symbolic {kind} (no value)"}
            if array.dtype.kind not in "biuf" and "bfloat" not in str(array.dtype):
                return {"$object": kind, "repr": f"a tensor of dtype {array.dtype}"}
            encoded = _encode_array(array)
            if "$array" in encoded:
                encoded["kind"] = kind
            return encoded
        if isinstance(value, (tuple, list)):
            items = [encode_value(item, depth + 1) for item in value[:ITEMS_LIMIT]]
            return {"$tuple" if isinstance(value, tuple) else "$list": items}
        if isinstance(value, dict) and all(isinstance(key, str) for key in value) and len(value) <= ITEMS_LIMIT:
            return {"$dict": {key[:200]: encode_value(item, depth + 1) for key, item in value.items()}}
        text = repr(value)
    except Exception:  # a learner's object whose repr or numpy() raises
        text = "<unprintable>"
    return {"$object": _type_label(value), "repr": text[:200]}


def _type_label(value: Any) -> str:
    module = type(value).__module__ or ""
    name = type(value).__name__
    return name if module in ("builtins", "") else f"{module.split('.')[0]}.{name}"


# ----------------------------------------------------------------------------------------------
# Reading back: strict
# ----------------------------------------------------------------------------------------------


def refuse(message: str):
    """Raise :class:`ObservationInvalid` ("malformed observation: ``message``"): the reader's one way to say no."""
    raise ObservationInvalid(f"malformed observation: {message}")


def _decode_array(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        refuse("an array needs exactly the keys dtype, shape and data")
    dtype, shape, data = spec["dtype"], spec["shape"], spec["data"]
    if dtype not in _DTYPES:
        refuse(f"unknown array dtype {str(dtype)[:40]!r}")
    if (
        not isinstance(shape, list)
        or len(shape) > 8
        or not all(isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= ARRAY_LIMIT for size in shape)
    ):
        refuse("an array's shape must be a list of at most 8 non-negative ints")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count > ARRAY_LIMIT:
        refuse("an array is larger than the limit")
    if not isinstance(data, str):
        refuse("an array's data must be a base64 string")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        refuse("an array's data is not valid base64")
    itemsize = np.dtype(dtype).itemsize
    if len(raw) != count * itemsize:
        refuse(f"an array's data holds {len(raw)} bytes; shape {shape} of {dtype} needs {count * itemsize}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def decode_value(data: Any, depth: int = 0) -> Any:
    """The value :func:`encode_value` encoded; raises :class:`ObservationInvalid` on anything else."""
    if depth > DEPTH_LIMIT:
        refuse("values nested too deeply")
    if data is None or isinstance(data, (bool, str)):
        if isinstance(data, str) and len(data) > STRING_LIMIT:
            refuse("a string is longer than the limit")
        return data
    if isinstance(data, int):
        if abs(data) >= 2**63:
            refuse("an int is out of range")
        return data
    if isinstance(data, float):
        return data
    if not isinstance(data, dict) or len(data) == 0:
        refuse(f"unexpected {type(data).__name__} where a value was expected")
    tags = [key for key in data if key.startswith("$")]
    if len(tags) != 1:
        refuse("a value needs exactly one $tag")
    tag = tags[0]
    allowed = {
        "$float": {"$float"},
        "$scalar": {"$scalar", "value"},
        "$array": {"$array", "kind"},
        "$tuple": {"$tuple"},
        "$list": {"$list"},
        "$dict": {"$dict"},
        "$object": {"$object", "repr"},
        "$oversized": {"$oversized"},
    }
    if (
        tag not in allowed
        or not set(data) <= allowed[tag]
        or (tag in ("$scalar", "$object") and set(data) != allowed[tag])
    ):
        refuse(f"unknown or incomplete value {sorted(data)[:4]}")
    body = data[tag]
    if tag == "$float":
        if body not in _NONFINITE:
            refuse("$float must be nan, inf or -inf")
        return _NONFINITE[body]
    if tag == "$scalar":
        if body not in _DTYPES:
            refuse("unknown scalar dtype")
        inner = data["value"]
        if isinstance(inner, dict):
            inner = decode_value(inner, depth + 1)
        if not isinstance(inner, (bool, int, float)):
            refuse("a scalar's value must be a number")
        try:
            return np.array(inner).astype(body)[()]
        except (OverflowError, ValueError):
            refuse("a scalar's value does not fit its dtype")
    if tag == "$array":
        array = _decode_array(body)
        if "kind" not in data:
            return array
        kind = data["kind"]
        if kind not in ("tf.Tensor", "tf.Variable") and not (
            isinstance(kind, str) and kind.startswith("keras ") and len(kind) < 60
        ):
            refuse("unknown tensor kind")
        return ObservedTensor(array, kind)
    if tag in ("$tuple", "$list"):
        if not isinstance(body, list) or len(body) > ITEMS_LIMIT:
            refuse(f"{tag} must be a list of at most {ITEMS_LIMIT} items")
        items = [decode_value(item, depth + 1) for item in body]
        return tuple(items) if tag == "$tuple" else items
    if tag == "$dict":
        if not isinstance(body, dict) or len(body) > ITEMS_LIMIT or any(len(key) > 200 for key in body):
            refuse("$dict must map short strings to values")
        return {key: decode_value(item, depth + 1) for key, item in body.items()}
    if tag == "$object":
        if not isinstance(body, str) or len(body) > 200 or not isinstance(data["repr"], str) or len(data["repr"]) > 200:
            refuse("$object needs a short type name and repr")
        return OpaqueValue(body, data["repr"])
    if not isinstance(body, str) or len(body) > 200:
        refuse("$oversized needs a short description")
    return Oversized(body)


class OpaqueValue:
    """A value of a type the observation cannot carry (a model, a generator ...): its type and repr."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return self.text


class Oversized:
    """Marker of a value too large to record; judged as an error."""

    def __init__(self, description: str):
        self.description = description

    def __repr__(self) -> str:
        return f"<{self.description}, too large to record>"


def _reject_constant(name: str):
    refuse(f"bare {name} is not allowed (non-finite floats are tagged)")


def decode_json(text: str) -> Any:
    """Parse JSON text strictly: size limit, no bare NaN/Infinity, depth checked while parsing."""
    if not isinstance(text, str):
        refuse(f"expected a JSON string; got {type(text).__name__}")
    if len(text) > OBSERVATION_LIMIT:
        refuse(f"{len(text)} characters, over the limit of {OBSERVATION_LIMIT}")
    depth = 0
    in_string = escaped = False
    for character in text:  # count nesting before json recurses (a depth bomb would overflow the stack)
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            if depth > 2 * DEPTH_LIMIT + 8:
                refuse("nested too deeply")
        elif character in "]}":
            depth -= 1
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ObservationInvalid:
        raise
    except (ValueError, RecursionError) as error:
        refuse(f"not valid JSON ({str(error)[:80]})")


def encode_json(value: Any) -> str:
    """``value`` encoded by :func:`encode_value` as compact JSON text."""
    return json.dumps(encode_value(value), separators=(",", ":"), allow_nan=False)
