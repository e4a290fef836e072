"""The checks split in two: ``observe`` runs the learner's code, ``judge`` decides the verdict.

* :func:`observe` runs in the learner's kernel. It calls the learner's function on the check's
  cases (each on pristine deep copies of its inputs), and records plain observations: the values
  returned (as JSON, see :mod:`utils.checks._serialize`), the errors raised (type, cleaned
  message, the learner's line), which inputs were changed in place, the result when the function
  runs compiled, which of the library's reference functions (the exercise's *answer key*) were
  called, and, for an exercise that calls earlier ones (``depends_on``), a second run with the
  earlier exercises replaced by the library's references, plus the earlier exercises' own runs.
  It never decides and never raises for anything the learner's code does.
* :func:`judge` decides, where the verdict is needed: in the notebook's own process (called by
  ``check_<exercise>``) or in the grader's process with a trusted context it builds itself
  (``grading=True``). It rebuilds the same cases, computes the expected values with the library's
  references, runs the classic mistakes (a mistake is named only when it reproduces the learner's
  results on every case it can run on) and returns a :class:`Verdict`.

Example:
    >>> observation = observe("conv_output_size", lambda n, f, p, s: (n + 2 * p - f) // s + 1)
    >>> judge("conv_output_size", observation).status
    'passed'
    >>> verdict = judge("conv_output_size", observe("conv_output_size", lambda n, f, p, s: (n - f) // s + 1))
    >>> verdict.status, "(forgot the padding)" in verdict.message
    ('failed', True)
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import dataclasses
import importlib
import inspect
import io
import json
import sys
import zlib
from typing import Any, Callable, Sequence

import numpy as np

from utils.checks import _serialize
from utils.checks._framework import (COMPILED_MODES, GRAPH_HINT, KERAS_HINT, Case, Mistake, _close, _describe, _is_tensor,
                                     _type_name, _type_problem, crash_text, error_record, run_in_keras_model,
                                     run_in_tf_function, stub_text)
from utils.checks._serialize import OBSERVATION_LIMIT, Oversized, decode_value, encode_value
from utils.errors import (CheckContextError, CheckFailed, ExerciseCrashed, ExerciseNotImplemented, ExerciseUnusable,
                          ObservationInvalid, UsageError)

#: Verdict statuses, best first.
STATUSES = ("passed", "failed", "not attempted", "error")

_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The decision on one exercise.

    Attributes:
        exercise: the exercise's name.
        status: one of :data:`STATUSES`.
        message: one short paragraph (expected/got and a true hint); "" when passed.
    """

    exercise: str
    status: str
    message: str = ""


#: Raised by a check's adapter in the kernel when the learner's object cannot be used at all (e.g.
#: ``build_siamese_head`` returned no model); recorded as ``{"key", "detail"}``.
Finding = ExerciseUnusable

#: Raised by a check's context validator: the check cannot use its extra arguments.
ContextProblem = CheckContextError


# ----------------------------------------------------------------------------------------------
# The observation
# ----------------------------------------------------------------------------------------------

class Observation:
    """What the learner's function did on the check's cases, as plain JSON-able data.

    Attributes:
        exercise: the exercise observed.
        seed: None (public cases only) or the seed of the hidden cases.
        runs: ``{"own": [case record, ...], "substituted": [...]}``; a case record is a dict with
            ``result`` (an encoded value) or ``error`` (see :func:`utils.checks._framework.error_record`)
            or ``finding``; ``mutated`` (names of the inputs changed in place); ``compiled`` (the
            compiled run's ``result`` or ``error``) where the exercise is also run compiled.
        delegated: qualified names of answer-key functions the learner's own run called.
        problem: None, or ``{"kind": "missing" | "context" | "oversized" | "internal", "message"}``.
        extras: exercise-specific plain observations (e.g. the name of the head's Dense layer).
        dependencies: ``{earlier exercise: Observation}`` of the earlier exercises found in the
            learner's namespace (own runs, public cases).
    """

    def __init__(self, exercise: str, seed: int | None = None, runs: dict | None = None,
                 delegated: Sequence[str] = (), problem: dict | None = None, extras: dict | None = None,
                 dependencies: dict | None = None):
        self.exercise = exercise
        self.seed = seed
        self.runs = runs or {}
        self.delegated = tuple(delegated)
        self.problem = problem
        self.extras = extras or {}
        self.dependencies = dependencies or {}

    def _payload(self) -> dict:
        return {"format": _FORMAT, "exercise": self.exercise, "seed": self.seed, "runs": self.runs,
                "delegated": list(self.delegated), "problem": self.problem, "extras": self.extras,
                "dependencies": {name: dependency._payload() for name, dependency in self.dependencies.items()}}

    def to_json(self) -> str:
        """Plain JSON; never longer than :data:`OBSERVATION_LIMIT` characters (an observation too large
        becomes one whose ``problem`` says so, judged as an error)."""
        text = json.dumps(self._payload(), separators=(",", ":"), allow_nan=False)
        if len(text) <= OBSERVATION_LIMIT:
            return text
        small = Observation(self.exercise, self.seed, problem={
            "kind": "oversized", "message": f"the observation of `{self.exercise}` has {len(text)} characters, "
                                            f"over the limit of {OBSERVATION_LIMIT}"})
        return small.to_json()

    @classmethod
    def from_json(cls, text: str) -> "Observation":
        """Read an observation strictly.

        Raises:
            ObservationInvalid: malformed JSON, unknown keys or exercises, wrong types, oversized
                content, invalid arrays (bad base64, shape/data mismatch), nesting too deep.
        """
        return cls._from_payload(_serialize.decode_json(text), depth=0)

    @classmethod
    def _from_payload(cls, data: Any, depth: int) -> "Observation":
        def invalid(message):
            raise ObservationInvalid(f"malformed observation: {message}")

        keys = {"format", "exercise", "seed", "runs", "delegated", "problem", "extras", "dependencies"}
        if not isinstance(data, dict) or set(data) != keys:
            invalid(f"expected exactly the keys {sorted(keys)}")
        if data["format"] != _FORMAT:
            invalid("unknown format version")
        exercise = data["exercise"]
        if exercise not in EXERCISES:
            invalid(f"unknown exercise {str(exercise)[:60]!r}")
        seed = data["seed"]
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or abs(seed) >= 2 ** 63):
            invalid("seed must be null or an int")
        runs = data["runs"]
        if not isinstance(runs, dict) or not set(runs) <= {"own", "substituted"}:
            invalid("runs must map 'own'/'substituted' to case lists")
        for records in runs.values():
            _validate_run(records, invalid)
        delegated = data["delegated"]
        if (not isinstance(delegated, list) or len(delegated) > 20
                or not all(isinstance(name, str) and name in _ALL_ANSWER_KEYS for name in delegated)):
            invalid("delegated must list answer-key names")
        problem = data["problem"]
        if problem is not None:
            if (not isinstance(problem, dict) or set(problem) != {"kind", "message"}
                    or problem["kind"] not in ("missing", "context", "oversized", "internal")
                    or not isinstance(problem["message"], str) or len(problem["message"]) > 2000):
                invalid("problem must be null or {kind, message}")
        extras = data["extras"]
        if not isinstance(extras, dict) or len(extras) > 20 or not all(isinstance(key, str) for key in extras):
            invalid("extras must be a small dict")
        for value in extras.values():
            decode_value(value)
        dependencies = data["dependencies"]
        if not isinstance(dependencies, dict) or (dependencies and depth > 0):
            invalid("dependencies must be a dict (one level)")
        parsed = {}
        for name, payload in dependencies.items():
            if name not in EXERCISES or name not in EXERCISES[exercise].all_dependencies():
                invalid(f"unexpected dependency {str(name)[:60]!r}")
            parsed[name] = cls._from_payload(payload, depth + 1)
            if parsed[name].exercise != name:
                invalid("a dependency's observation is of another exercise")
        return cls(exercise, seed, runs, delegated, problem, extras, parsed)


_RECORD_KEYS = {"result", "error", "finding", "mutated", "compiled"}
_ERROR_KEYS = {"type": str, "message": str, "stub": (str, type(None)), "where": (list, type(None)),
               "in_graph": bool, "numpy_in_graph": bool, "tensor_as_array": bool, "keras_tensor": bool}


def _validate_error(error, invalid) -> None:
    if not isinstance(error, dict) or set(error) != set(_ERROR_KEYS):
        invalid("an error record needs exactly the keys " + ", ".join(sorted(_ERROR_KEYS)))
    for key, kind in _ERROR_KEYS.items():
        if not isinstance(error[key], kind):
            invalid(f"an error record's {key} has the wrong type")
    if len(error["type"]) > 80 or len(error["message"]) > 400 or (error["stub"] and error["stub"] not in EXERCISES):
        invalid("an error record's type, message or stub is invalid")
    where = error["where"]
    if where is not None and (len(where) != 3 or not isinstance(where[0], str) or len(where[0]) > 120
                              or not isinstance(where[1], int) or isinstance(where[1], bool)
                              or not isinstance(where[2], str) or len(where[2]) > 200):
        invalid("an error record's where must be [function, line, source]")


def _validate_outcome(record, invalid, allowed) -> None:
    outcomes = [key for key in ("result", "error", "finding") if key in record]
    if len(outcomes) != 1 or outcomes[0] not in allowed:
        invalid("a case record needs exactly one of result, error, finding")
    if "result" in record:
        decode_value(record["result"])
    if "error" in record:
        _validate_error(record["error"], invalid)
    if "finding" in record:
        finding = record["finding"]
        if (not isinstance(finding, dict) or set(finding) != {"key", "detail"} or not isinstance(finding["key"], str)
                or len(finding["key"]) > 60 or not isinstance(finding["detail"], str) or len(finding["detail"]) > 600):
            invalid("a finding needs a short key and detail")


def _validate_run(records, invalid) -> None:
    if not isinstance(records, list) or len(records) > 200:
        invalid("a run must be a list of at most 200 case records")
    for record in records:
        if not isinstance(record, dict) or not set(record) <= _RECORD_KEYS:
            invalid("a case record has unknown keys")
        _validate_outcome(record, invalid, ("result", "error", "finding"))
        mutated = record.get("mutated", [])
        if not isinstance(mutated, list) or len(mutated) > 20 or not all(
                isinstance(name, str) and len(name) <= 60 for name in mutated):
            invalid("mutated must list input names")
        if "compiled" in record:
            compiled = record["compiled"]
            if not isinstance(compiled, dict) or not set(compiled) <= {"result", "error"}:
                invalid("a compiled record has unknown keys")
            _validate_outcome(compiled, invalid, ("result", "error"))


# ----------------------------------------------------------------------------------------------
# Kernel side: running the learner's function
# ----------------------------------------------------------------------------------------------

def _pristine(value: Any) -> Any:
    """A deep copy of the containers and arrays in ``value``; models, tensors, paths stay shared."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        try:
            return type(value)((key, _pristine(item)) for key, item in value.items())
        except Exception:  # a dict subclass that cannot be rebuilt from pairs
            return copy.deepcopy(value)
    if isinstance(value, list):
        return [_pristine(item) for item in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(_pristine(item) for item in value)
    if hasattr(value, "assign") and hasattr(value, "numpy"):   # a tf.Variable: copy its value
        try:
            import tensorflow as tf  # deferred: TensorFlow is slow to import

            return tf.Variable(value.numpy())
        except Exception:
            return value
    return value


def _same(before: Any, after: Any) -> bool:
    if isinstance(before, np.ndarray):
        return isinstance(after, np.ndarray) and before.shape == after.shape and bool(
            np.array_equal(before, after, equal_nan=before.dtype.kind == "f"))
    if isinstance(before, dict):
        return isinstance(after, dict) and list(before) == list(after) and all(
            _same(before[key], after[key]) for key in before)
    if isinstance(before, (list, tuple)):
        return isinstance(after, (list, tuple)) and len(before) == len(after) and all(
            _same(b, a) for b, a in zip(before, after))
    if hasattr(before, "assign") and hasattr(before, "numpy"):
        try:
            return bool(np.array_equal(before.numpy(), after.numpy()))
        except Exception:
            return True
    return True


def _silenced(function: Callable) -> Callable:
    """``function`` with its prints swallowed (the check prints one line, not the learner's)."""
    def call(*args, **kwargs):
        with contextlib.redirect_stdout(io.StringIO()):
            return function(*args, **kwargs)

    return call


def _outcome(exercise: str, call: Callable) -> dict:
    try:
        return {"result": encode_value(call())}
    except Finding as finding:
        return {"finding": {"key": finding.key[:60], "detail": finding.detail[:600]}}
    except (Exception, SystemExit) as error:  # the learner's code raised (KeyboardInterrupt still stops the check)
        return {"error": error_record(exercise, error)}


def _resolve(qualified: str):
    """(owner, attribute name, object) for ``"package.module.function"`` or ``"module.Class.method"``."""
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


@contextlib.contextmanager
def _spying(answer_key: Sequence[str], namespaces: Sequence[dict]):
    """Replace each answer-key function, wherever it is bound (its module, every ``utils`` module that
    re-exports it, the learner's namespaces), by a wrapper that records its qualified name."""
    called: set[str] = set()
    patches = []   # (owner or dict, name, original)
    try:
        for qualified in answer_key:
            try:
                owner, name, original = _resolve(qualified)
            except (ImportError, AttributeError):
                continue

            def wrapper(*args, __original=original, __name=qualified, **kwargs):
                called.add(__name)
                return __original(*args, **kwargs)

            if inspect.isclass(owner):
                patches.append((owner, name, owner.__dict__.get(name, original)))
                if isinstance(original, property):   # e.g. StyleTransfer.train_step: spy on its getter
                    def getter(self, __getter=original.fget, __name=qualified):
                        called.add(__name)
                        return __getter(self)

                    setattr(owner, name, property(getter))
                else:
                    setattr(owner, name, wrapper)
                continue
            for module in [module for key, module in list(sys.modules.items()) if key.split(".")[0] == "utils"]:
                if getattr(module, name, None) is original or any(
                        getattr(module, attribute, None) is original for attribute in (name,)):
                    patches.append((module, name, original))
                    setattr(module, name, wrapper)
            for namespace in namespaces:
                for key, value in list(namespace.items()):
                    if value is original:
                        patches.append((namespace, key, original))
                        namespace[key] = wrapper
        yield called
    finally:
        for owner, name, original in reversed(patches):
            if isinstance(owner, dict):
                owner[name] = original
            else:
                setattr(owner, name, original)


def _python_function(function: Callable) -> Callable:
    """The Python function under a ``tf.function`` (or the function itself)."""
    return getattr(function, "python_function", function)


def _namespaces(function: Callable) -> list[dict]:
    inner = _python_function(function)
    namespace = getattr(inner, "__globals__", None)
    return [namespace] if isinstance(namespace, dict) else []


@contextlib.contextmanager
def _substituted(function: Callable, replacements: dict):
    """``function`` with the global names in ``replacements`` bound to other objects while inside;
    a ``tf.function`` is re-wrapped so that it traces again with the replacements."""
    namespaces = _namespaces(function)
    saved = []
    try:
        for namespace in namespaces:
            for name, replacement in replacements.items():
                if name in namespace:
                    saved.append((namespace, name, namespace[name]))
                    namespace[name] = replacement
        inner = _python_function(function)
        if inner is not function:
            import tensorflow as tf  # deferred: TensorFlow is slow to import

            yield tf.function(inner)
        else:
            yield function
    finally:
        for namespace, name, original in reversed(saved):
            namespace[name] = original


# ----------------------------------------------------------------------------------------------
# The exercise check
# ----------------------------------------------------------------------------------------------

def hidden_rng(seed: int, exercise: str) -> np.random.Generator:
    """The random generator of ``exercise``'s hidden cases for the grader's ``seed``."""
    return np.random.default_rng([seed % 2 ** 63, zlib.crc32(exercise.encode())])


def _no_context():
    """The context of a check that takes none."""


class ExerciseCheck:
    """One exercise's check: its cases, reference, classic mistakes, and how to observe and judge.

    Args:
        name: the exercise's name (the learner's function's name in the notebook).
        reference: the library's correct implementation, with the exercise's signature.
        cases: ``cases(context, seed) -> [Case, ...]``: the public cases, plus hidden ones derived
            from ``seed`` when it is not None; deterministic, so kernel and judge build the same.
        mistakes: ``mistakes(context) -> [Mistake, ...]``, the more specific first.
        generic_hint: the hint when no mistake and no type problem explains a wrong result.
        arg_names: the exercise's argument names (for "your function changed `database` in place").
        context: a function whose signature is the check's extra arguments (``check_verify(verify,
            database, model)`` -> ``def context(database, model)``); it returns None or raises
            :class:`ContextProblem`.
        trusted_context: builds the context in grading (e.g. the course encoder and database).
        depends_on: earlier exercises the learner's function calls (names in the notebook).
        answer_key: qualified names of library functions the learner must not call.
        adapter: ``adapter(function, context) -> callable`` run in the kernel around the learner's
            function (e.g. build the learner's model and run it).
        tensor_result, compiled: the result must be a ``tf.Tensor``; also run it compiled
            (``"tf.function"`` or ``"keras"``).
        rtol, atol: tolerances.
        error_hints: ``[(predicate(error record) -> bool, status, hint), ...]``: errors that are a known
            mistake (e.g. comparing an array with the threshold) get that hint and status.
        findings: ``{finding key: message template}`` (``{detail}`` is replaced).
        extras: ``extras(function, context) -> dict`` of plain observations made in the kernel.
        finish: ``finish(extras) -> message or None``: a last requirement once the values are right.
        substitute: ``substitute(context, learner_function) -> callable`` that replaces this exercise
            when a LATER exercise is run with references (default: ``reference``).
    """

    def __init__(self, name: str, reference: Callable, cases: Callable, *, mistakes: Callable = lambda context: [],
                 generic_hint: str, arg_names: Sequence[str], context: Callable = _no_context,
                 trusted_context: Callable | None = None, depends_on: Sequence[str] = (),
                 answer_key: Sequence[str] = (), adapter: Callable | None = None, tensor_result: bool = False,
                 compiled: str | None = None, rtol: float = 1e-4, atol: float = 1e-5,
                 error_hints: Sequence = (), findings: dict | None = None, extras: Callable | None = None,
                 finish: Callable | None = None, substitute: Callable | None = None, silence: bool = True):
        self.name = name
        self.reference = reference
        self.build_cases = cases
        self.build_mistakes = mistakes
        self.generic_hint = generic_hint
        self.arg_names = tuple(arg_names)
        self.context_signature = inspect.signature(context)
        self.validate = context
        self.trusted_context = trusted_context
        self.depends_on = tuple(depends_on)
        self.answer_key = tuple(answer_key)
        self.adapter = adapter
        self.tensor_result = tensor_result
        self.compiled = compiled
        self.rtol, self.atol = rtol, atol
        self.error_hints = tuple(error_hints)
        self.findings = findings or {}
        self.extras = extras
        self.finish = finish
        self.substitute = substitute
        self.silence = silence

    def __repr__(self) -> str:
        return f"ExerciseCheck({self.name!r}, depends_on={self.depends_on})"

    # ---- context
    def bind(self, context: tuple, options: dict) -> dict:
        """The check's extra arguments by name (defaults applied); UsageError when they do not fit."""
        try:
            bound = self.context_signature.bind(*context, **options)
        except TypeError as error:
            raise UsageError(f"check of `{self.name}`: {error}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def all_dependencies(self) -> tuple[str, ...]:
        """``depends_on`` and theirs, in notebook order (earliest first)."""
        found: list[str] = []
        for name in self.depends_on:
            for inner in EXERCISES[name].all_dependencies() + (name,):
                if inner not in found:
                    found.append(inner)
        order = list(EXERCISES)
        return tuple(sorted(found, key=order.index))

    # ---- kernel side
    def run(self, function: Callable, context: dict, cases: Sequence[Case]) -> list[dict]:
        """The case records of ``function`` (see :class:`Observation`)."""
        call = self.adapter(function, context) if self.adapter else function
        if self.silence:
            call = _silenced(call)
        records = []
        for case in cases:
            args = tuple(_pristine(value) for value in case.args)
            kwargs = {key: _pristine(value) for key, value in case.kwargs.items()}
            kept = (tuple(_pristine(value) for value in case.args),
                    {key: _pristine(value) for key, value in case.kwargs.items()})
            record = _outcome(self.name, lambda: call(*args, **kwargs))
            names = list(self.arg_names) + [f"argument {index + 1}" for index in range(len(self.arg_names), len(args))]
            mutated = [names[index] for index, (before, after) in enumerate(zip(kept[0], args))
                       if not _same(before, after)]
            mutated += [key for key in kwargs if not _same(kept[1][key], kwargs[key])]
            if mutated:
                record["mutated"] = mutated
            if self.compiled and "result" in record:
                runner = run_in_tf_function if self.compiled == "tf.function" else run_in_keras_model
                compiled_case = Case(tuple(_pristine(value) for value in case.args),
                                     {key: _pristine(value) for key, value in case.kwargs.items()}, case.description)
                record["compiled"] = _outcome(self.name, lambda: runner(_silenced(function), compiled_case))
            records.append(record)
        return records

    def substitute_for(self, context: dict, learner_function: Callable | None) -> Callable:
        """What replaces this exercise when a later exercise runs with the library's references."""
        return self.substitute(context, learner_function) if self.substitute else self.reference

    def observe(self, function: Callable, context: tuple, seed: int | None, options: dict,
                nested: bool = False) -> Observation:
        observation = Observation(self.name, seed)
        try:
            bound = self.bind(context, options)
        except UsageError as error:
            observation.problem = {"kind": "context", "message": str(error)}
            return observation
        try:
            self.validate(**bound)
        except ContextProblem as problem:
            observation.problem = {"kind": "context", "message": str(problem)}
            return observation
        if not callable(function):
            observation.problem = {"kind": "missing", "message": (
                f"`{self.name}` should be a function; got {_type_name(function)}. Run the cell that defines it.")}
            return observation
        try:
            self.observe_runs(observation, function, bound, seed, nested)
        except Exception as error:  # a failure of the check itself must not hide as the learner's
            observation.problem = {"kind": "internal", "message": (
                f"the check of `{self.name}` could not run your function: {type(error).__name__}: "
                f"{str(error)[:300]}")}
        return observation

    def observe_runs(self, observation: Observation, function: Callable, context: dict, seed: int | None,
                     nested: bool) -> None:
        cases = self.build_cases(context, seed)
        namespaces = _namespaces(function)
        with _spying(self.answer_key, namespaces) as called:
            observation.runs["own"] = self.run(function, context, cases)
        for qualified in self.answer_key:   # the learner's "function" IS the library's reference
            try:
                if _python_function(function) is _python_function(_resolve(qualified)[2]):
                    called.add(qualified)
            except (ImportError, AttributeError):
                pass
        observation.delegated = tuple(sorted(called))
        if self.extras:
            observation.extras = {key: encode_value(value) for key, value in self.extras(function, context).items()}
        if nested or not self.depends_on or not namespaces:
            return
        namespace = namespaces[0]
        found = [name for name in self.all_dependencies() if callable(namespace.get(name))]
        if not found:
            return
        replacements = {name: EXERCISES[name].substitute_for(context, namespace.get(name)) for name in found}
        with _substituted(function, replacements) as replaced:
            observation.runs["substituted"] = self.run(replaced, context, cases)
        for name in found:
            observation.dependencies[name] = EXERCISES[name].observe(namespace[name], (), None, {}, nested=True)

    # ---- judge side
    def judge(self, observation: Observation, context: dict, seed: int | None, grading: bool) -> Verdict:
        if observation.problem:
            return Verdict(self.name, "error", observation.problem["message"])
        if "own" not in observation.runs:
            return Verdict(self.name, "error", f"the observation of `{self.name}` holds no run")
        cases = self.build_cases(context, seed)
        mistakes = self.build_mistakes(context)
        own = observation.runs["own"]
        substituted = observation.runs.get("substituted")
        for records in (own, substituted):
            if records is not None and len(records) != len(cases):
                return Verdict(self.name, "error", f"the observation of `{self.name}` holds {len(records)} cases; "
                                                   f"the check has {len(cases)} (was it made with another seed?)")
        if grading:
            if observation.delegated:
                names = ", ".join(f"`{name}`" for name in observation.delegated)
                return Verdict(self.name, "failed", f"Exercise `{self.name}` calls the course library's reference "
                                                    f"{names}: write the computation yourself.")
            verdict = self.evaluate(substituted if substituted is not None else own, cases, mistakes, context,
                                    observation)
            return verdict
        verdict = self.evaluate(own, cases, mistakes, context, observation)
        if verdict.status == "passed" or substituted is None:
            return verdict
        if verdict.status == "not attempted" and verdict.message.startswith(f"Exercise `{self.name}`"):
            return verdict
        replaced = self.evaluate(substituted, cases, mistakes, context, observation)
        broken = self.broken_dependency(observation)
        if replaced.status == "passed":
            if verdict.status == "not attempted":
                return verdict
            if broken:
                return Verdict(self.name, broken.status if broken.status == "not attempted" else "failed",
                               f"`{self.name}` looks right, but `{broken.exercise}` is wrong: fix it first "
                               f"(its own check says: {_first_sentence(broken.message)})")
            names = ", ".join(f"`{name}`" for name in observation.dependencies)
            return Verdict(self.name, "failed", f"`{self.name}` gives the right answer with the course's versions of "
                                                f"{names}, but not with yours, although they pass their own "
                                                f"checks: " + _first_sentence(verdict.message))
        if broken and replaced.status != "not attempted":
            return Verdict(self.name, replaced.status, replaced.message + (
                f"\n  Note: `{broken.exercise}`, which it calls, fails its own check too: fix it first."))
        return replaced

    def broken_dependency(self, observation: Observation) -> Verdict | None:
        for name in self.all_dependencies():
            if name in observation.dependencies:
                dependency = EXERCISES[name]
                verdict = dependency.judge(observation.dependencies[name], dependency.bind((), {}), None, False)
                if verdict.status != "passed":
                    return verdict
        return None

    def evaluate(self, records: list[dict], cases: Sequence[Case], mistakes: Sequence[Mistake], context: dict,
                 observation: Observation) -> Verdict:
        """The verdict on one run's records."""
        name = self.name
        decoded = [_decoded(record) for record in records]
        for index, (case, record) in enumerate(zip(cases, records)):
            where = f" for {case.description}" if case.description else ""
            if "finding" in record:
                template = self.findings.get(record["finding"]["key"], "{detail}")
                return Verdict(name, "failed", f"Exercise `{name}`: " + template.format(detail=record["finding"]["detail"]))
            if "error" in record:
                return self.error_verdict(record["error"], case.description)
            actual = decoded[index]
            if isinstance(actual, Oversized):
                return Verdict(name, "error", f"Exercise `{name}` returned {actual.description}{where}, too large to "
                                              f"record: return the value the exercise asks for.")
            if record.get("mutated"):
                inputs = " and ".join(f"`{input_name}`" for input_name in record["mutated"])
                return Verdict(name, "failed", (
                    f"Exercise `{name}`: your function changed {inputs} in place{where} (an in-place operation such "
                    f"as `-=`, `+=` or item assignment on an input). The caller's data must stay as it was: "
                    f"compute new values instead (e.g. `difference = encoding - stored`)."))
            expected = self.reference(*case.args, **case.kwargs)
            if not _close(expected, actual, self.rtol, self.atol):
                message = (f"Exercise `{name}`: wrong result{where}.\n  expected: {_describe(expected)}\n"
                           f"  got:      {_describe(actual)}")
                mistake = self.explaining_mistake(mistakes, cases, decoded, records, index, expected, actual)
                problem = None if mistake else _type_problem(expected, actual)
                if mistake:
                    message += f"\n  Likely mistake ({mistake.name}): {mistake.hint}"
                elif problem:
                    message += f"\n  Wrong type: {problem}"
                else:
                    message += f"\n  {self.generic_hint}"
                return Verdict(name, "failed", message)
            if self.tensor_result and not _is_tensor(actual):
                return Verdict(name, "failed", (
                    f"Exercise `{name}`: the value is right{where}, but it is a {_type_name(actual)}; the course "
                    f"expects a tf.Tensor.\n  Likely mistake (NumPy instead of TensorFlow): {GRAPH_HINT} "
                    f"(tf.reduce_sum, tf.square, tf.matmul, tf.transpose, tf.maximum ... return tensors)."))
            if self.compiled and "compiled" not in record:
                return Verdict(name, "error", f"the observation of `{name}` lacks the compiled run{where}")
            if "compiled" in record:
                compiled = record["compiled"]
                if "error" in compiled:
                    for predicate, status, hint in self.error_hints:
                        if predicate(compiled["error"]):
                            return Verdict(name, status, crash_text(name, compiled["error"], case.description,
                                                                    compiled=self.compiled, hint=hint))
                    return Verdict(name, "error", crash_text(name, compiled["error"], case.description,
                                                             compiled=self.compiled))
                compiled_value = decode_value(compiled["result"])
                if not _close(expected, compiled_value, self.rtol, self.atol):
                    inside = "inside tf.function" if self.compiled == "tf.function" else "inside a Keras model"
                    hint = GRAPH_HINT if self.compiled == "tf.function" else KERAS_HINT
                    return Verdict(name, "failed", (
                        f"Exercise `{name}`: the right result when called directly, but not {inside}{where}.\n"
                        f"  expected: {_describe(expected)}\n  got:      {_describe(compiled_value)}\n"
                        f"  Likely mistake (Python or NumPy code that runs only once, when traced): {hint}."))
        if self.finish:
            extras = {key: decode_value(value) for key, value in observation.extras.items()}
            message = self.finish(extras)
            if message:
                return Verdict(name, "failed", f"Exercise `{name}`: {message}")
        return Verdict(name, "passed", "")

    def error_verdict(self, record: dict, description: str) -> Verdict:
        if record.get("stub"):
            return Verdict(self.name, "not attempted", stub_text(self.name, record))
        for predicate, status, hint in self.error_hints:
            if predicate(record):
                return Verdict(self.name, status, crash_text(self.name, record, description, hint=hint))
        return Verdict(self.name, "error", crash_text(self.name, record, description))

    def explaining_mistake(self, mistakes, cases, decoded, records, failing, expected, actual) -> Mistake | None:
        """The first classic mistake that reproduces the learner's results on EVERY case it runs on
        (and on the failing case, where it differs from the right answer); None when none does."""
        for mistake in mistakes:
            wrong = _quietly(mistake.implementation, cases[failing])
            if wrong is _FAILED or not _close(wrong, actual, self.rtol, self.atol) or _close(
                    wrong, expected, self.rtol, self.atol):
                continue
            agrees = True
            for index, case in enumerate(cases):
                if index == failing or "result" not in records[index] or isinstance(decoded[index], Oversized):
                    continue
                other = _quietly(mistake.implementation, case)
                if other is not _FAILED and not _close(other, decoded[index], self.rtol, self.atol):
                    agrees = False
                    break
            if agrees:
                return mistake
        return None


_FAILED = object()


def _quietly(function: Callable, case: Case):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return function(*case.args, **case.kwargs)
    except Exception:
        return _FAILED


def _decoded(record: dict):
    return decode_value(record["result"]) if "result" in record else None


def _first_sentence(message: str) -> str:
    return " ".join(message.split())


# ----------------------------------------------------------------------------------------------
# The registry and the public API
# ----------------------------------------------------------------------------------------------

#: Every checked exercise, by name, in notebook order (filled by the check modules).
EXERCISES: dict[str, ExerciseCheck] = {}
_ALL_ANSWER_KEYS: set[str] = set()


def register(check: ExerciseCheck) -> ExerciseCheck:
    """Add ``check`` to :data:`EXERCISES` (one per exercise name)."""
    if check.name in EXERCISES:
        raise UsageError(f"exercise {check.name!r} is registered twice")
    EXERCISES[check.name] = check
    _ALL_ANSWER_KEYS.update(check.answer_key)
    return check


def _check_named(exercise: str) -> ExerciseCheck:
    try:
        return EXERCISES[exercise]
    except (KeyError, TypeError):
        raise UsageError(f"no check for exercise {exercise!r}; known: {', '.join(EXERCISES)}") from None


def observe(exercise: str, function: Callable, *context, seed: int | None = None, **options) -> Observation:
    """Kernel side: run the learner's ``function`` on the check's cases and record what happened.

    Never raises for anything the learner's code does (stub, crash, wrong type, prints, inputs
    changed in place, NumPy in a graph ...).

    Args:
        exercise: the exercise's name (a key of :data:`EXERCISES`).
        function: the learner's function.
        *context, **options: exactly the extra arguments of ``check_<exercise>``
            (e.g. ``observe("verify", verify, database, model)``).
        seed: None: the public cases only; an int: also hidden cases derived from it.

    Returns:
        The :class:`Observation`.

    Raises:
        UsageError: ``exercise`` is not a checked exercise.

    Example:
        >>> observe("conv_param_count", lambda f, rank, c_in, c_out: (f ** rank * c_in + 1) * c_out).runs["own"][0]
        {'result': 96}
    """
    return _check_named(exercise).observe(function, context, seed, options)


_TRUSTED: dict = {}


def trusted_context(exercise: str) -> dict:
    """The context a grader judges ``exercise`` with, built from the course's assets (cached per process)."""
    check = _check_named(exercise)
    if check.trusted_context is None:
        return check.bind((), {})
    key = check.trusted_context   # verify and who_is_it share one builder: one encoder, one database
    if key not in _TRUSTED:
        _TRUSTED[key] = check.trusted_context()
    return dict(_TRUSTED[key])


def judge(exercise: str, observation: Observation, *context, seed: int | None = None, grading: bool = False,
          **options) -> Verdict:
    """Decide the verdict on ``observation`` (see the module's docstring).

    Args:
        exercise: the exercise's name.
        observation: what :func:`observe` recorded (possibly read back with ``Observation.from_json``).
        *context, **options: the check's extra arguments; in grading none: the check builds a trusted
            context itself (:func:`trusted_context`).
        seed: the seed the observation was made with.
        grading: judge the run with the library's references substituted for ``depends_on`` (one
            mistake costs one exercise) and fail an exercise that called its answer key.

    Returns:
        A :class:`Verdict`.
    """
    check = _check_named(exercise)
    if not isinstance(observation, Observation):
        return Verdict(exercise, "error", f"no observation of `{exercise}` (got {type(observation).__name__})")
    if observation.exercise != exercise:
        return Verdict(exercise, "error", f"the observation is of `{observation.exercise}`, not `{exercise}`")
    if observation.seed != seed:
        return Verdict(exercise, "error", f"the observation of `{exercise}` was made with another seed")
    if grading and not context and not options:
        bound = trusted_context(exercise)
    else:
        try:
            bound = check.bind(context, options)
            check.validate(**bound)
        except (UsageError, ContextProblem) as problem:
            return Verdict(exercise, "error", str(problem))
    try:
        return check.judge(observation, bound, seed, grading)
    except ObservationInvalid as error:
        return Verdict(exercise, "error", str(error))
    except Exception as error:  # a forged or inconsistent observation must not crash the judge
        return Verdict(exercise, "error", f"the check of `{exercise}` could not judge this observation: "
                                          f"{type(error).__name__}: {str(error)[:300]}")


def check_function(exercise: str, function: Callable, reference: Callable, cases: Sequence[Case],
                   mistakes: Sequence[Mistake] = (), rtol: float = 1e-4, atol: float = 1e-5, quiet: bool = False, *,
                   tensor_result: bool = False, compiled: str | None = None,
                   generic_hint: str = "Compare your result with the expected one on the case above.") -> None:
    """A one-off check, outside :data:`EXERCISES` (for a notebook's extra exercise or a test).

    Same rules as the registered checks: ``function`` is observed on ``cases``, compared with
    ``reference``, and a mistake is named only when it reproduces every result.

    Args:
        exercise: the name used in messages.
        function: the learner's implementation; reference: the right one (same signature).
        cases: inputs to try; mistakes: classic wrong implementations, the more specific first.
        rtol, atol: tolerances; quiet: do not print "All tests passed.".
        tensor_result: the result must be a ``tf.Tensor``; compiled: also run it ``"tf.function"`` or ``"keras"``.
        generic_hint: the hint when no mistake and no type problem explains a wrong result.

    Raises:
        CheckFailed (ExerciseCrashed, ExerciseNotImplemented): see :func:`run_check`.

    Example:
        >>> check_function("double", lambda x: x + x, lambda x: 2 * x, [Case((3,))])
        All tests passed.
        >>> try:
        ...     check_function("double", lambda x: x * x, lambda x: 2 * x, [Case((3,), description="x = 3")],
        ...                    [Mistake("squared", "multiply by 2, do not square.", lambda x: x ** 2)])
        ... except CheckFailed as failure:
        ...     print(failure)
        Exercise `double`: wrong result for x = 3.
          expected: 6
          got:      9
          Likely mistake (squared): multiply by 2, do not square.
    """
    if compiled not in COMPILED_MODES:
        raise UsageError(f"compiled must be one of {COMPILED_MODES}; got {compiled!r}")
    check = ExerciseCheck(exercise, reference, lambda context, seed: list(cases), mistakes=lambda context: list(mistakes),
                          generic_hint=generic_hint, arg_names=(), tensor_result=tensor_result, compiled=compiled,
                          rtol=rtol, atol=atol)
    verdict = check.judge(check.observe(function, (), None, {}), {}, None, False)
    if verdict.status != "passed":
        raise _RAISES[verdict.status](verdict.message)
    if not quiet:
        builtins.print("All tests passed.")


_RAISES = {"failed": CheckFailed, "error": ExerciseCrashed, "not attempted": ExerciseNotImplemented}


def run_check(exercise: str, function: Callable, *context, **options) -> None:
    """``check_<exercise>``: observe, judge, then print "All tests passed." or raise.

    Raises:
        CheckFailed: a wrong answer; ExerciseCrashed: the learner's code raised;
        ExerciseNotImplemented: the learner's stub is still there.
    """
    observation = observe(exercise, function, *context, **options)
    verdict = judge(exercise, observation, *context, **options)
    if verdict.status != "passed":
        raise _RAISES[verdict.status](verdict.message)
    builtins.print("All tests passed.")
