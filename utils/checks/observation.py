"""The observation (what the learner's function did, as plain JSON) and the verdict (the decision).

An :class:`Observation` crosses a process boundary in grading: the learner's kernel writes it
(:meth:`Observation.to_json`) and the grader's own process reads it back
(:meth:`Observation.from_json`) before judging it. The reader trusts nothing: every key, type,
length and nesting level is checked against the registry (known exercises, their dependencies,
their answer keys), values are read by :func:`utils.checks.values.decode_value`, and anything
else raises :class:`~utils.errors.ObservationInvalid`. Nothing is executed or unpickled.

Example:
    >>> observation = Observation("conv_output_size", runs={"own": [{"result": 10}]})
    >>> Observation.from_json(observation.to_json()).runs
    {'own': [{'result': 10}]}
    >>> Observation.from_json('{"format": 2, "exercise": "rm -rf"}')
    Traceback (most recent call last):
    utils.errors.ObservationInvalid: malformed observation: expected exactly the keys ['delegated', 'dependencies', 'exercise', 'extras', 'format', 'problem', 'runs', 'seed']
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from utils.checks import registry
from utils.checks.learner_errors import ERROR_KEYS
from utils.checks.values import OBSERVATION_LIMIT, decode_json, decode_value, refuse

#: Verdict statuses, best first.
STATUSES = ("passed", "failed", "not attempted", "error")

#: Version of the observation's JSON layout.
FORMAT = 2

#: What an observation's ``problem`` may say went wrong before the learner's function ran.
PROBLEMS = ("missing", "context", "oversized", "internal")


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


class Observation:
    """What the learner's function did on the check's cases, as plain JSON-able data.

    Attributes:
        exercise: the exercise observed.
        seed: None (public cases only) or the seed of the hidden cases.
        runs: ``{"own": [case record, ...], "substituted": [...]}``; a case record is a dict with
            ``result`` (an encoded value) or ``error`` (see
            :func:`utils.checks.learner_errors.error_record`) or ``finding`` (``{"key", "detail"}``:
            the learner's object cannot be used at all); ``mutated`` (names of the inputs changed
            in place); ``compiled`` (the compiled run's ``result`` or ``error``) where the exercise
            is also run compiled.
        delegated: qualified names of answer-key functions the learner's own run called.
        problem: None, or ``{"kind": one of PROBLEMS, "message"}``.
        extras: exercise-specific plain observations (e.g. the name of the head's Dense layer).
        dependencies: ``{earlier exercise: Observation}`` of the earlier exercises found in the
            learner's namespace (own runs, public cases).
    """

    def __init__(
        self,
        exercise: str,
        seed: int | None = None,
        runs: dict | None = None,
        delegated: Sequence[str] = (),
        problem: dict | None = None,
        extras: dict | None = None,
        dependencies: dict | None = None,
    ):
        self.exercise = exercise
        self.seed = seed
        self.runs = runs or {}
        self.delegated = tuple(delegated)
        self.problem = problem
        self.extras = extras or {}
        self.dependencies = dependencies or {}

    def payload(self) -> dict:
        """The observation as plain data (what :meth:`to_json` writes)."""
        return {
            "format": FORMAT,
            "exercise": self.exercise,
            "seed": self.seed,
            "runs": self.runs,
            "delegated": list(self.delegated),
            "problem": self.problem,
            "extras": self.extras,
            "dependencies": {name: dependency.payload() for name, dependency in self.dependencies.items()},
        }

    def to_json(self) -> str:
        """Plain JSON; never longer than :data:`OBSERVATION_LIMIT` characters (an observation too large
        becomes one whose ``problem`` says so, judged as an error)."""
        text = json.dumps(self.payload(), separators=(",", ":"), allow_nan=False)
        if len(text) <= OBSERVATION_LIMIT:
            return text
        small = Observation(
            self.exercise,
            self.seed,
            problem={
                "kind": "oversized",
                "message": f"the observation of `{self.exercise}` has {len(text)} characters, "
                f"over the limit of {OBSERVATION_LIMIT}",
            },
        )
        return small.to_json()

    @classmethod
    def from_json(cls, text: str) -> Observation:
        """Read an observation strictly.

        Raises:
            ObservationInvalid: malformed JSON, unknown keys or exercises, wrong types, oversized
                content, invalid arrays (bad base64, shape/data mismatch), nesting too deep.
        """
        return cls.from_payload(decode_json(text), depth=0)

    @classmethod
    def from_payload(cls, data: Any, depth: int = 0) -> Observation:
        """The observation ``data`` (parsed JSON) holds, checked key by key (see :meth:`from_json`)."""
        keys = {"format", "exercise", "seed", "runs", "delegated", "problem", "extras", "dependencies"}
        if not isinstance(data, dict) or set(data) != keys:
            refuse(f"expected exactly the keys {sorted(keys)}")
        if data["format"] != FORMAT:
            refuse("unknown format version")
        exercise = data["exercise"]
        if not isinstance(exercise, str) or exercise not in registry.EXERCISES:
            refuse(f"unknown exercise {str(exercise)[:60]!r}")
        seed = data["seed"]
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or abs(seed) >= 2**63):
            refuse("seed must be null or an int")
        runs = data["runs"]
        if not isinstance(runs, dict) or not set(runs) <= {"own", "substituted"}:
            refuse("runs must map 'own'/'substituted' to case lists")
        for records in runs.values():
            validate_run(records)
        delegated = data["delegated"]
        known_keys = registry.answer_key_names()
        if (
            not isinstance(delegated, list)
            or len(delegated) > 20
            or not all(isinstance(name, str) and name in known_keys for name in delegated)
        ):
            refuse("delegated must list answer-key names")
        _validate_problem(data["problem"])
        extras = data["extras"]
        if not isinstance(extras, dict) or len(extras) > 20 or not all(isinstance(key, str) for key in extras):
            refuse("extras must be a small dict")
        for value in extras.values():
            decode_value(value)
        dependencies = _dependencies(cls, exercise, data["dependencies"], depth)
        return cls(exercise, seed, runs, delegated, data["problem"], extras, dependencies)


def _validate_problem(problem) -> None:
    if problem is not None and (
        not isinstance(problem, dict)
        or set(problem) != {"kind", "message"}
        or problem["kind"] not in PROBLEMS
        or not isinstance(problem["message"], str)
        or len(problem["message"]) > 2000
    ):
        refuse("problem must be null or {kind, message}")


def _dependencies(cls, exercise: str, dependencies, depth: int) -> dict:
    if not isinstance(dependencies, dict) or (dependencies and depth > 0):
        refuse("dependencies must be a dict (one level)")
    parsed = {}
    allowed = registry.dependencies_of(exercise)
    for name, payload in dependencies.items():
        if name not in allowed:
            refuse(f"unexpected dependency {str(name)[:60]!r}")
        parsed[name] = cls.from_payload(payload, depth + 1)
        if parsed[name].exercise != name:
            refuse("a dependency's observation is of another exercise")
    return parsed


_RECORD_KEYS = {"result", "error", "finding", "mutated", "compiled"}


def validate_error(error) -> None:
    """Refuse an error record that is not exactly :data:`~utils.checks.learner_errors.ERROR_KEYS`."""
    if not isinstance(error, dict) or set(error) != set(ERROR_KEYS):
        refuse("an error record needs exactly the keys " + ", ".join(sorted(ERROR_KEYS)))
    for key, kind in ERROR_KEYS.items():
        if not isinstance(error[key], kind):
            refuse(f"an error record's {key} has the wrong type")
    if (
        len(error["type"]) > 80
        or len(error["message"]) > 400
        or (error["stub"] and error["stub"] not in registry.EXERCISES)
    ):
        refuse("an error record's type, message or stub is invalid")
    where = error["where"]
    if where is not None and (
        len(where) != 3
        or not isinstance(where[0], str)
        or len(where[0]) > 120
        or not isinstance(where[1], int)
        or isinstance(where[1], bool)
        or not isinstance(where[2], str)
        or len(where[2]) > 200
    ):
        refuse("an error record's where must be [function, line, source]")


def _validate_outcome(record, allowed) -> None:
    outcomes = [key for key in ("result", "error", "finding") if key in record]
    if len(outcomes) != 1 or outcomes[0] not in allowed:
        refuse("a case record needs exactly one of result, error, finding")
    if "result" in record:
        decode_value(record["result"])
    if "error" in record:
        validate_error(record["error"])
    if "finding" in record:
        finding = record["finding"]
        if (
            not isinstance(finding, dict)
            or set(finding) != {"key", "detail"}
            or not isinstance(finding["key"], str)
            or len(finding["key"]) > 60
            or not isinstance(finding["detail"], str)
            or len(finding["detail"]) > 600
        ):
            refuse("a finding needs a short key and detail")


def validate_run(records) -> None:
    """Refuse a run (a list of case records) that is malformed (see :class:`Observation`)."""
    if not isinstance(records, list) or len(records) > 200:
        refuse("a run must be a list of at most 200 case records")
    for record in records:
        if not isinstance(record, dict) or not set(record) <= _RECORD_KEYS:
            refuse("a case record has unknown keys")
        _validate_outcome(record, ("result", "error", "finding"))
        mutated = record.get("mutated", [])
        if (
            not isinstance(mutated, list)
            or len(mutated) > 20
            or not all(isinstance(name, str) and len(name) <= 60 for name in mutated)
        ):
            refuse("mutated must list input names")
        if "compiled" in record:
            compiled = record["compiled"]
            if not isinstance(compiled, dict) or not set(compiled) <= {"result", "error"}:
                refuse("a compiled record has unknown keys")
            _validate_outcome(compiled, ("result", "error"))
