"""Kernel side: running the learner's function, and the tools that watch it run.

Everything here runs in the learner's kernel, around the learner's code, and never raises for
what that code does:

* :func:`pristine` copies of the inputs (so a function that changes its inputs in place is seen:
  :func:`unchanged`), :func:`record` of one call (its value, or the error it raised, as plain data);
* :func:`quietly` silences the learner's prints, and :func:`quiet_tensorflow` TensorFlow's retracing
  warnings and Python warnings, so that a check cell prints one line;
* :class:`Spies`: recording wrappers around the answer key (the library's reference
  implementations), installed for a run (:meth:`Spies.recording`) or for good before the learner's
  first cell (:meth:`Spies.install`, what the grader does);
* :func:`substituted` and :class:`ObjectsReplaced`: the learner's function with some of the names
  or objects it reads (its globals, its closure) bound to others — the library's versions of the
  earlier exercises, or a check's own targets;
* :func:`run_in_tf_function` and :func:`run_in_keras_model`: the learner's function on symbolic
  tensors, as the course's training step or model-building cell calls it.

Example:
    >>> import numpy as np
    >>> record("double", lambda: 2 * 3)
    {'result': 6}
    >>> record("double", lambda: 1 / 0)["error"]["type"]
    'ZeroDivisionError'
    >>> values = np.zeros(2); copy = pristine(values); copy += 1; unchanged(values, np.zeros(2))
    True
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import inspect
import io
import logging
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from utils.checks.learner_errors import error_record
from utils.checks.values import encode_value
from utils.errors import ExerciseUnusable

# ----------------------------------------------------------------------------------------------
# One call of the learner's function
# ----------------------------------------------------------------------------------------------


def pristine(value: Any) -> Any:
    """A deep copy of the containers, arrays and ``tf.Variable`` values in ``value``; models, tensors
    and paths stay shared (they cannot be changed in place, or are not the learner's data)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        try:
            return type(value)((key, pristine(item)) for key, item in value.items())
        except Exception:  # a dict subclass that cannot be rebuilt from pairs
            return copy.deepcopy(value)
    if isinstance(value, list):
        return [pristine(item) for item in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(pristine(item) for item in value)
    if isinstance(value, tf.Variable):
        return tf.Variable(value.numpy())
    return value


def unchanged(before: Any, after: Any) -> bool:
    """``after`` (an input after the call) equals ``before`` (its pristine copy taken before)."""
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and bool(np.array_equal(before, after, equal_nan=before.dtype.kind == "f"))
        )
    if isinstance(before, dict):
        return (
            isinstance(after, dict)
            and list(before) == list(after)
            and all(unchanged(before[key], after[key]) for key in before)
        )
    if isinstance(before, (list, tuple)):
        return (
            isinstance(after, (list, tuple))
            and len(before) == len(after)
            and all(unchanged(b, a) for b, a in zip(before, after))
        )
    if isinstance(before, tf.Variable):
        try:
            return bool(np.array_equal(before.numpy(), after.numpy()))
        except Exception:
            return True
    return True


def quietly(function: Callable) -> Callable:
    """``function`` with its prints swallowed (the check prints one line, not the learner's)."""

    @functools.wraps(function)
    def call(*args, **kwargs):
        with contextlib.redirect_stdout(io.StringIO()):
            return function(*args, **kwargs)

    return call


@contextlib.contextmanager
def quiet_tensorflow() -> Iterator[None]:
    """No TensorFlow retracing warnings (a check calls a ``tf.function`` once per case) and no
    Python warnings while a check runs the learner's code; both are restored afterwards."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def record(exercise: str, call: Callable[[], Any]) -> dict:
    """``{"result": value}`` of ``call()`` as plain data, ``{"error": record}`` when it raised, or
    ``{"finding": {"key", "detail"}}`` when the check found the learner's object unusable."""
    try:
        return {"result": encode_value(call())}
    except ExerciseUnusable as finding:
        return {"finding": {"key": finding.key[:60], "detail": finding.detail[:600]}}
    except (Exception, SystemExit) as error:  # the learner's code raised (KeyboardInterrupt still stops the check)
        return {"error": error_record(exercise, error)}


# ----------------------------------------------------------------------------------------------
# The learner's namespace
# ----------------------------------------------------------------------------------------------


def python_function(function: Callable) -> Callable:
    """The Python function under a ``tf.function`` (or the function itself)."""
    return getattr(function, "python_function", function)


def learner_namespaces(function: Callable) -> list[dict]:
    """The globals of the learner's function (its notebook's namespace), as a list of one or none."""
    namespace = getattr(python_function(function), "__globals__", None)
    return [namespace] if isinstance(namespace, dict) else []


def referenced_objects(function: Callable) -> list:
    """The objects ``function`` reads by name from its globals and from its closure cells."""
    namespace = getattr(function, "__globals__", {})
    found = [
        namespace[name] for name in getattr(getattr(function, "__code__", None), "co_names", ()) if name in namespace
    ]
    for cell in getattr(function, "__closure__", None) or ():
        try:
            found.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    return found


@contextlib.contextmanager
def substituted(function: Callable, replacements: dict) -> Iterator[Callable]:
    """``function`` with the global names in ``replacements`` bound to other objects while inside;
    a ``tf.function`` is re-wrapped so that it traces again with the replacements."""
    saved = []
    try:
        for namespace in learner_namespaces(function):
            for name, replacement in replacements.items():
                if name in namespace:
                    saved.append((namespace, name, namespace[name]))
                    namespace[name] = replacement
        inner = python_function(function)
        yield tf.function(inner) if inner is not function else function
    finally:
        for namespace, name, original in reversed(saved):
            namespace[name] = original


class ObjectsReplaced:
    """Bind other objects to the names of ``function``'s globals and closure cells that hold given objects.

    Args:
        function: a Python function (not a ``tf.function``: pass :func:`python_function` of it).
        replacements: ``{id(object): replacement}``.

    Attributes:
        found: the ids of the objects that ``function`` reads and that were replaced.
    """

    def __init__(self, function: Callable, replacements: dict):
        self.function, self.replacements = function, replacements
        self.saved: list = []
        self.found: set = set()

    def __enter__(self) -> ObjectsReplaced:
        namespace = getattr(self.function, "__globals__", {})
        for name in getattr(getattr(self.function, "__code__", None), "co_names", ()):
            value = namespace.get(name)
            if id(value) in self.replacements:
                self.saved.append((namespace, name, value))
                namespace[name] = self.replacements[id(value)]
                self.found.add(id(value))
        for cell in getattr(self.function, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if id(value) in self.replacements:
                self.saved.append((cell, None, value))
                cell.cell_contents = self.replacements[id(value)]
                self.found.add(id(value))
        return self

    def __exit__(self, *exc) -> bool:
        for owner, name, value in reversed(self.saved):
            if name is None:
                owner.cell_contents = value
            else:
                owner[name] = value
        return False


# ----------------------------------------------------------------------------------------------
# The answer key, watched
# ----------------------------------------------------------------------------------------------


def resolve(qualified: str) -> tuple[Any, str, Any]:
    """(owner, attribute name, object) for ``"package.module.function"`` or ``"module.Class.method"``.

    Raises:
        ImportError, AttributeError: nothing by that name.
    """
    parts = qualified.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:-1]:
            owner = getattr(owner, part)
        return owner, parts[-1], getattr(owner, parts[-1])
    raise ImportError(qualified)


class Spies:
    """Recording wrappers around the answer key: which references did the learner's code call?

    :meth:`recording` replaces each reference wherever it is bound (its module, every ``utils``
    module and module-level dict that holds it, the learner's namespaces) for the length of a run;
    :meth:`install` does the same for good, so that a reference the learner takes later (an alias,
    a default argument, a closure) is the wrapper too. A wrapper records its name in every
    recording under way, then calls the reference.
    """

    def __init__(self):
        self.recordings: list[set[str]] = []
        self.references: dict[str, tuple[Any, Any]] = {}  # qualified name -> (original, installed wrapper or None)

    def wrapper(self, qualified: str, original: Callable) -> Callable:
        """A function that records ``qualified`` in every recording under way, then calls ``original``."""
        spies = self

        @functools.wraps(original)
        def spy(*args, **kwargs):
            for called in spies.recordings:
                called.add(qualified)
            return original(*args, **kwargs)

        return spy

    def _class_wrapper(self, qualified: str, raw):
        """The wrapper of a class attribute, of the same kind (property, static or class method, method)."""
        if isinstance(raw, property):
            return property(self.wrapper(qualified, raw.fget))
        if isinstance(raw, (staticmethod, classmethod)):
            return type(raw)(self.wrapper(qualified, raw.__func__))
        return self.wrapper(qualified, raw)

    def _patch(self, qualified: str, namespaces: Sequence[dict]) -> list[tuple]:
        """Put a wrapper wherever ``qualified`` is bound; the (owner, name, old value) patches made."""
        try:
            owner, name, current = resolve(qualified)
        except (ImportError, AttributeError):
            return []
        original = self.references.get(qualified, (current, None))[0]
        wrapper = self.references.get(qualified, (None, None))[1]
        if inspect.isclass(owner):
            old = owner.__dict__.get(name, current)
            if wrapper is None:
                wrapper = self._class_wrapper(qualified, owner.__dict__.get(name, original))
            setattr(owner, name, wrapper)
            return [(owner, name, old)]
        wrapper = wrapper or self.wrapper(qualified, original)
        patches = []
        holders = [module for key, module in list(sys.modules.items()) if key.split(".")[0] == "utils"]
        for module in holders:
            for attribute, value in list(vars(module).items()):
                if value is original:
                    patches.append((module, attribute, value))
                    setattr(module, attribute, wrapper)
                elif isinstance(value, dict) and not attribute.startswith("__"):
                    namespaces = [*namespaces, value]
        for namespace in namespaces:
            for key, value in list(namespace.items()):
                if value is original:
                    patches.append((namespace, key, value))
                    namespace[key] = wrapper
        self.references.setdefault(qualified, (original, None))
        return patches

    def install(self, qualified_names: Sequence[str]) -> None:
        """Replace each reference by its wrapper for good (idempotent)."""
        for qualified in qualified_names:
            if self.references.get(qualified, (None, None))[1] is not None:
                continue
            patches = self._patch(qualified, ())
            if patches:
                owner, name = patches[0][0], patches[0][1]
                wrapper = owner[name] if isinstance(owner, dict) else getattr(owner, name)
                self.references[qualified] = (self.references[qualified][0], wrapper)

    def identities(self, qualified: str) -> list:
        """The objects that stand for ``qualified``: the reference and its wrapper, when installed."""
        original, wrapper = self.references.get(qualified, (None, None))
        if original is None:
            try:
                original = resolve(qualified)[2]
            except (ImportError, AttributeError):
                return []
        return [item for item in (original, wrapper) if item is not None]

    @contextlib.contextmanager
    def recording(self, qualified_names: Sequence[str], namespaces: Sequence[dict] = ()) -> Iterator[set[str]]:
        """The set of names of ``qualified_names`` called while inside (wrappers put in place for the run)."""
        called: set[str] = set()
        patches: list[tuple] = []
        self.recordings.append(called)
        try:
            for qualified in qualified_names:
                patches += self._patch(qualified, namespaces)
            yield called
        finally:
            for owner, name, original in reversed(patches):
                if isinstance(owner, dict):
                    owner[name] = original
                else:
                    setattr(owner, name, original)
            self.recordings.remove(called)


#: The spies of this process (one per kernel).
SPIES = Spies()


# ----------------------------------------------------------------------------------------------
# Running the learner's function compiled
# ----------------------------------------------------------------------------------------------


def _graph_arguments(args: tuple) -> tuple:
    """Arrays and tensors (at any depth) and top-level numbers become tensors: inside tf.function
    they are symbolic, as in a compiled training step. Strings, None and nested numbers stay."""

    def convert(value):
        if isinstance(value, (np.ndarray, tf.Tensor)):
            return tf.convert_to_tensor(value)
        return value

    converted = []
    for value in args:
        if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_)):
            converted.append(tf.constant(value, tf.float32))
        else:
            converted.append(tf.nest.map_structure(convert, value))
    return tuple(converted)


def run_in_tf_function(function: Callable, args: tuple, kwargs: dict):
    """``function(*args, **kwargs)`` traced and run by ``tf.function`` (symbolic inputs)."""

    def traced(*symbolic):
        return function(*symbolic, **kwargs)

    return tf.function(traced)(*_graph_arguments(args))


def run_in_keras_model(function: Callable, args: tuple, kwargs: dict):
    """Build a Keras model ``keras.Input``s -> ``function`` and run it on the arrays ``args``."""
    arrays = [np.asarray(value, np.float32) for value in args]
    inputs = [keras.Input(shape=array.shape[1:], dtype="float32") for array in arrays]
    model = keras.Model(inputs, function(*inputs, **kwargs))
    return np.asarray(model(arrays, training=False))
