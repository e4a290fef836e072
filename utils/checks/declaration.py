"""The exercise declaration: everything about one exercise's check, written once.

An exercise is declared by decorating its documented ``check_<name>`` function::

    @Exercise.declare(reference=_output_size, cases=_output_size_cases, mistakes=_output_size_mistakes,
                      hint="(n + 2p - f) // s + 1 ...", answer_key=("utils.convnets.arithmetic.conv_output_length",))
    def check_conv_output_size(conv_output_size: Callable) -> None:
        \"\"\"Check the exercise ``conv_output_size(n, f, p, s)``.\"\"\"

The function's name gives the exercise's name, its first parameter is the learner's function and
the others are the check's *context* (``check_verify(verify, database, model)``: the context is
``database, model``): the notebook calls it, and the grader binds ``observe``'s extra arguments to
the same signature. Its body runs first, with the same arguments: it may check them and raise
:class:`~utils.errors.CheckContextError`; the decorator adds observing and judging. The decorated
function is what the notebook calls, and it carries its declaration as ``.exercise``.

A declaration is data (reference, cases, mistakes, hint, tolerances, ``depends_on``, answer key).
A check that needs behaviour of its own subclasses :class:`Exercise`, overrides a hook
(:meth:`Exercise.call`, :meth:`Exercise.extras`, :meth:`Exercise.finish`, :meth:`Exercise.substitute`,
:meth:`Exercise.run`, :meth:`Exercise.evaluate`) and declares itself with ``@Subclass.declare(...)``:
that is the one way to extend a check.

Example:
    >>> def doubled_cases(context, seed):
    ...     return [Case((3,), description="x = 3")]
    >>> @Exercise.declare(reference=lambda x: 2 * x, cases=doubled_cases, hint="multiply by 2.",
    ...                   mistakes=lambda context: [Mistake("squared", "do not square.", lambda x: x * x)])
    ... def check_doubled(doubled):
    ...     \"\"\"Check ``doubled(x)``.\"\"\"
    >>> check_doubled(lambda x: x + x)
    All tests passed.
    >>> try:
    ...     check_doubled(lambda x: x ** 2)
    ... except CheckFailed as failure:
    ...     print(failure)
    Exercise `doubled`: wrong result for x = 3.
      expected: 6
      got:      9
      Likely mistake (squared): do not square.
    >>> registry.EXERCISES.remove("doubled")
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
from collections.abc import Callable, Sequence
from typing import Any

from utils.checks import registry
from utils.checks.cases import Case, ErrorHint, Mistake
from utils.checks.comparing import close, describe, is_tensor, type_name, type_problem
from utils.checks.instrumentation import (
    SPIES,
    learner_namespaces,
    pristine,
    python_function,
    quiet_tensorflow,
    quietly,
    record,
    run_in_keras_model,
    run_in_tf_function,
    substituted,
    unchanged,
)
from utils.checks.learner_errors import GRAPH_HINT, KERAS_HINT, crash_text, stub_text
from utils.checks.observation import Observation, Verdict
from utils.checks.values import Oversized, decode_value, encode_value
from utils.errors import CheckContextError, CheckFailed, ObservationInvalid, UsageError  # noqa: F401 (doctest)

#: How a check can also run the function: not at all, inside tf.function, or on keras.Input tensors.
COMPILED_MODES = (None, "tf.function", "keras")


def one_line(message: str) -> str:
    """``message`` with its line breaks and indentation collapsed (to quote it inside another)."""
    return " ".join(message.split())


_NO_RESULT = object()


def _quietly_call(function: Callable, case: Case):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return function(*case.args, **case.kwargs)
    except Exception:
        return _NO_RESULT


def _decoded(record: dict):
    return decode_value(record["result"]) if "result" in record else None


class Exercise:
    """One exercise's check: its cases, reference, classic mistakes, and how to observe and judge.

    Made by :meth:`declare`, not called directly. Args (all keyword arguments of :meth:`declare`):
        check: the documented ``check_<name>`` function (name, context signature, context checks).
        reference: the library's correct implementation, with the exercise's signature.
        cases: ``cases(context, seed) -> [Case, ...]``: the public cases, plus hidden ones derived
            from ``seed`` when it is not None (:func:`hidden_rng`); deterministic, so the kernel and
            the judge build the same. A comment above it says which wrong answers each case rules out.
        hint: the exercise's own hint, when no mistake and no type problem explains a wrong result.
        mistakes: ``mistakes(context) -> [Mistake, ...]``, the more specific first.
        depends_on: earlier exercises the learner's function calls (names in the notebook).
        answer_key: qualified names of library functions the learner must not call.
        tensor_result: the result must be a ``tf.Tensor``.
        compiled: also run it ``"tf.function"`` or ``"keras"`` (see :data:`COMPILED_MODES`).
        rtol, atol: tolerances of the comparison.
        error_hints: :class:`ErrorHint` s of errors that are a known mistake.
        trusted_context: builds the context in grading (e.g. the course encoder and database).
        arguments: the learner function's argument names (default: the reference's), for "your
            function changed `database` in place".
    """

    #: The learner's prints are swallowed while the check runs the function.
    silence = True

    def __init__(
        self,
        check: Callable,
        reference: Callable,
        cases: Callable,
        *,
        hint: str,
        mistakes: Callable = lambda context: [],
        depends_on: Sequence[str] = (),
        answer_key: Sequence[str] = (),
        tensor_result: bool = False,
        compiled: str | None = None,
        rtol: float = 1e-4,
        atol: float = 1e-5,
        error_hints: Sequence[ErrorHint] = (),
        trusted_context: Callable | None = None,
        arguments: Sequence[str] | None = None,
    ):
        if not check.__name__.startswith("check_"):
            raise UsageError(f"a declared check is named check_<exercise>; got {check.__name__!r}")
        if compiled not in COMPILED_MODES:
            raise UsageError(f"compiled must be one of {COMPILED_MODES}; got {compiled!r}")
        self.name = check.__name__[len("check_") :]
        self.documented = check
        parameters = list(inspect.signature(check).parameters.values())
        self.context_signature = inspect.Signature(parameters[1:])
        self.reference, self.cases, self.mistakes, self.hint = reference, cases, mistakes, hint
        self.depends_on, self.answer_key = tuple(depends_on), tuple(answer_key)
        self.tensor_result, self.compiled, self.rtol, self.atol = tensor_result, compiled, rtol, atol
        self.error_hints, self.trusted_context = tuple(error_hints), trusted_context
        self.arguments = tuple(arguments if arguments is not None else self._reference_arguments())
        self.check_function = self._check_function()

    @classmethod
    def declare(cls, **declaration) -> Callable[[Callable], Callable]:
        """Decorator: declare the exercise of the decorated ``check_<name>`` and register it.

        Returns:
            The notebook's ``check_<name>``: same name, signature and docstring; it observes, judges,
            prints "All tests passed." or raises (:func:`utils.checks.registry.run_check`).
        """

        def decorate(check: Callable) -> Callable:
            exercise = cls(check, **declaration)
            registry.EXERCISES.add(exercise)
            return exercise.check_function

        return decorate

    def _check_function(self) -> Callable:
        name = self.name

        @functools.wraps(self.documented)
        def check(function, *context, **options) -> None:
            registry.run_check(name, function, *context, **options)

        check.exercise = self
        return check

    def _reference_arguments(self) -> list[str]:
        try:
            return list(inspect.signature(self.reference).parameters)
        except (TypeError, ValueError):
            return []

    def __repr__(self) -> str:
        return f"Exercise({self.name!r}, depends_on={self.depends_on})"

    # ---- the context
    def bind(self, context: tuple, options: dict) -> dict:
        """The check's extra arguments by name (defaults applied); UsageError when they do not fit."""
        try:
            bound = self.context_signature.bind(*context, **options)
        except TypeError as error:
            raise UsageError(f"check of `{self.name}`: {error}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def validate(self, function: Callable, context: dict) -> None:
        """Run the documented function's body, which may raise :class:`~utils.errors.CheckContextError`."""
        self.documented(function, **context)

    # ---- hooks (override in a subclass)
    def call(self, function: Callable, context: dict) -> Callable:
        """Hook: the callable run on each case (default: the learner's function itself)."""
        return function

    def extras(self, function: Callable, context: dict) -> dict:
        """Hook, kernel side: exercise-specific plain observations, read by :meth:`finish`."""
        return {}

    def finish(self, extras: dict) -> str | None:
        """Hook, judge side: a last requirement once every value is right; a message, or None."""
        return None

    def substitute(self, context: dict, learner_function: Callable | None) -> Callable:
        """Hook: what replaces this exercise when a LATER exercise runs with the course's versions."""
        return self.reference

    def run(self, function: Callable, context: dict, cases: Sequence[Case]) -> list[dict]:
        """Hook, kernel side: the case records of ``function`` (see :class:`~utils.checks.observation.Observation`)."""
        call = self.call(function, context)
        call = quietly(call) if self.silence else call
        records = []
        for case in cases:
            args, kwargs = pristine(case.args), pristine(case.kwargs)
            kept = (pristine(case.args), pristine(case.kwargs))
            outcome = record(self.name, functools.partial(call, *args, **kwargs))
            names = list(self.arguments) + [f"argument {index + 1}" for index in range(len(self.arguments), len(args))]
            mutated = [
                names[index] for index, (before, after) in enumerate(zip(kept[0], args)) if not unchanged(before, after)
            ]
            mutated += [key for key in kwargs if not unchanged(kept[1][key], kwargs[key])]
            if mutated:
                outcome["mutated"] = mutated
            if self.compiled and "result" in outcome:
                runner = run_in_tf_function if self.compiled == "tf.function" else run_in_keras_model
                compiled_args, compiled_kwargs = pristine(case.args), pristine(case.kwargs)
                outcome["compiled"] = record(
                    self.name, functools.partial(runner, quietly(function), compiled_args, compiled_kwargs)
                )
            records.append(outcome)
        return records

    # ---- kernel side
    def observe(
        self, function: Callable, context: tuple, options: dict, seed: int | None, nested: bool = False
    ) -> Observation:
        """What ``function`` does on this check's cases (never raises for the learner's code)."""
        observation = Observation(self.name, seed)
        try:
            bound = self.bind(context, options)
            self.validate(function, bound)
        except (UsageError, CheckContextError) as problem:
            observation.problem = {"kind": "context", "message": str(problem)[:2000]}
            return observation
        except Exception as error:  # the check's own context test failed on what it was given
            observation.problem = {
                "kind": "context",
                "message": (f"check_{self.name} cannot use its arguments: {type(error).__name__}: {str(error)[:300]}"),
            }
            return observation
        if not callable(function):
            observation.problem = {
                "kind": "missing",
                "message": (
                    f"`{self.name}` should be a function; got {type_name(function)}. Run the cell that defines it."
                ),
            }
            return observation
        try:
            with quiet_tensorflow():
                self.observe_runs(observation, function, bound, seed, nested)
        except Exception as error:  # a failure of the check itself must not hide as the learner's
            observation.problem = {
                "kind": "internal",
                "message": (
                    f"the check of `{self.name}` could not run your function: {type(error).__name__}: "
                    f"{str(error)[:300]}"
                ),
            }
        return observation

    def observe_runs(
        self, observation: Observation, function: Callable, context: dict, seed: int | None, nested: bool
    ) -> None:
        """Fill ``observation``: the own run, what it delegated, extras, and the run with the course's
        versions of the earlier exercises (with their own observations)."""
        cases = self.cases(context, seed)
        namespaces = learner_namespaces(function)
        with SPIES.recording(self.answer_key, namespaces) as called:
            observation.runs["own"] = self.run(function, context, cases)
        inner = python_function(function)
        called.update(
            key for key in self.answer_key if any(inner is python_function(item) for item in SPIES.identities(key))
        )
        observation.delegated = tuple(sorted(called & set(self.answer_key)))
        observation.extras = {key: encode_value(value) for key, value in self.extras(function, context).items()}
        if nested or not self.depends_on or not namespaces:
            return
        namespace = namespaces[0]
        found = [name for name in registry.dependencies_of(self.name) if callable(namespace.get(name))]
        if not found:
            return
        replacements = {name: registry.exercise_named(name).substitute(context, namespace.get(name)) for name in found}
        with substituted(function, replacements) as replaced:
            observation.runs["substituted"] = self.run(replaced, context, cases)
        for name in found:
            observation.dependencies[name] = registry.exercise_named(name).observe(
                namespace[name], (), {}, None, nested=True
            )

    # ---- judge side
    def judge(
        self, observation, bound: dict | None, context: tuple, options: dict, seed: int | None, grading: bool
    ) -> Verdict:
        """The verdict on ``observation``, with the context ``bound`` (None: bind ``context`` and ``options``)."""
        if not isinstance(observation, Observation):
            return Verdict(self.name, "error", f"no observation of `{self.name}` (got {type(observation).__name__})")
        if observation.exercise != self.name:
            return Verdict(self.name, "error", f"the observation is of `{observation.exercise}`, not `{self.name}`")
        if observation.seed != seed:
            return Verdict(self.name, "error", f"the observation of `{self.name}` was made with another seed")
        try:
            bound = self.bind(context, options) if bound is None else bound
            with quiet_tensorflow():
                return self.decide(observation, bound, seed, grading)
        except (UsageError, ObservationInvalid) as problem:
            return Verdict(self.name, "error", str(problem))
        except Exception as error:  # a forged or inconsistent observation must not crash the judge
            return Verdict(
                self.name,
                "error",
                f"the check of `{self.name}` could not judge this observation: "
                f"{type(error).__name__}: {str(error)[:300]}",
            )

    def decide(self, observation: Observation, context: dict, seed: int | None, grading: bool) -> Verdict:
        """The verdict: in grading on the run with the course's earlier exercises; in a notebook on both runs."""
        if observation.problem:
            return Verdict(self.name, "error", observation.problem["message"])
        if "own" not in observation.runs:
            return Verdict(self.name, "error", f"the observation of `{self.name}` holds no run")
        cases = self.cases(context, seed)
        own, substituted_run = observation.runs["own"], observation.runs.get("substituted")
        for records in (own, substituted_run):
            if records is not None and len(records) != len(cases):
                return Verdict(
                    self.name,
                    "error",
                    f"the observation of `{self.name}` holds {len(records)} cases; "
                    f"the check has {len(cases)} (was it made with another seed?)",
                )
        if grading:
            if observation.delegated:
                names = ", ".join(f"`{name}`" for name in observation.delegated)
                return Verdict(
                    self.name,
                    "failed",
                    f"Exercise `{self.name}` calls the course library's reference "
                    f"{names}: write the computation yourself.",
                )
            return self.evaluate(substituted_run if substituted_run is not None else own, cases, context, observation)
        return self.decide_in_notebook(observation, own, substituted_run, cases, context)

    def decide_in_notebook(self, observation, own, substituted_run, cases, context) -> Verdict:
        """Both runs judged: a wrong earlier exercise is named, and a later one right only with the
        learner's own earlier exercises fails here as it will in grading."""
        verdict = self.evaluate(own, cases, context, observation)
        if substituted_run is None:
            return verdict
        if verdict.status == "not attempted" and verdict.message.startswith(f"Exercise `{self.name}`"):
            return verdict
        replaced = self.evaluate(substituted_run, cases, context, observation)
        if replaced.status == "passed" and verdict.status in ("passed", "not attempted"):
            return verdict
        broken = self.broken_dependency(observation)  # the earlier exercises judged only when it matters
        if verdict.status == "passed":
            return self.right_only_with_yours(broken, replaced, observation)
        if replaced.status == "passed":
            if broken:
                return Verdict(
                    self.name,
                    broken.status if broken.status == "not attempted" else "failed",
                    f"`{self.name}` looks right, but `{broken.exercise}` is wrong: fix it first "
                    f"(its own check says: {one_line(broken.message)})",
                )
            names = ", ".join(f"`{name}`" for name in observation.dependencies)
            return Verdict(
                self.name,
                "failed",
                f"`{self.name}` gives the right answer with the course's versions of "
                f"{names}, but not with yours, although they pass their own "
                f"checks: " + one_line(verdict.message),
            )
        if broken and replaced.status != "not attempted":
            return Verdict(
                self.name,
                replaced.status,
                replaced.message
                + (f"\n  Note: `{broken.exercise}`, which it calls, fails its own check too: fix it first."),
            )
        return replaced

    def right_only_with_yours(self, broken: Verdict | None, replaced: Verdict, observation) -> Verdict:
        """Right with the learner's earlier exercises, wrong with the course's (how it will be graded)."""
        if broken:
            return Verdict(
                self.name,
                "failed",
                (
                    f"`{self.name}` is right only with your `{broken.exercise}`, which is wrong (its own check says: "
                    f"{one_line(broken.message)})\n  With the course's `{broken.exercise}`, as in grading: "
                    f"{one_line(replaced.message)}"
                ),
            )
        names = ", ".join(f"`{name}`" for name in observation.dependencies)
        return Verdict(
            self.name,
            "failed",
            (
                f"`{self.name}` is right only with your versions of {names}, not with the course's (grading uses the "
                f"course's): {one_line(replaced.message)}"
            ),
        )

    def broken_dependency(self, observation: Observation) -> Verdict | None:
        """The verdict of the first earlier exercise whose own observation does not pass, or None."""
        for name in registry.dependencies_of(self.name):
            if name in observation.dependencies:
                dependency = registry.exercise_named(name)
                verdict = dependency.decide(observation.dependencies[name], dependency.bind((), {}), None, False)
                if verdict.status != "passed":
                    return verdict
        return None

    def evaluate(self, records: list[dict], cases: Sequence[Case], context: dict, observation: Observation) -> Verdict:
        """Hook, judge side: the verdict on one run's records.

        Per case, in order: a finding, an error, an oversized value, inputs changed in place, a wrong
        value (with the mistake that explains every case, or what is known), a result that is not a
        tensor, a compiled run that fails; then, once every value is right, a wrong type (an int asked,
        a float given) and :meth:`finish`.
        """
        mistakes = self.mistakes(context)
        decoded = [_decoded(record) for record in records]
        wrong_kind = None
        for index, case in enumerate(cases[: len(records)]):
            verdict, expected = self.case_verdict(index, cases, records, decoded, mistakes)
            if verdict:
                return verdict
            problem = type_problem(expected, decoded[index])
            if problem and wrong_kind is None:
                wrong_kind = Verdict(
                    self.name, "failed", f"Exercise `{self.name}`: the value is right{self.where(case)}, but {problem}."
                )
        if wrong_kind:
            return wrong_kind
        message = self.finish({key: decode_value(value) for key, value in observation.extras.items()})
        if message:
            return Verdict(self.name, "failed", f"Exercise `{self.name}`: {message}")
        return Verdict(self.name, "passed", "")

    @staticmethod
    def where(case: Case) -> str:
        """`` for <the case's description>`` (or "")."""
        return f" for {case.description}" if case.description else ""

    def case_verdict(self, index, cases, records, decoded, mistakes) -> tuple[Verdict | None, Any]:
        """(the verdict on case ``index`` when it fails, else None; the expected value)."""
        case, record = cases[index], records[index]
        name, where = self.name, self.where(case)
        if "finding" in record:
            return Verdict(name, "failed", f"Exercise `{name}`: {record['finding']['detail']}"), None
        if "error" in record:
            return self.error_verdict(record["error"], case.description), None
        actual = decoded[index]
        if isinstance(actual, Oversized):
            return Verdict(
                name,
                "error",
                f"Exercise `{name}` returned {actual.description}{where}, too large to "
                f"record: return the value the exercise asks for.",
            ), None
        if record.get("mutated"):
            inputs = " and ".join(f"`{input_name}`" for input_name in record["mutated"])
            return Verdict(
                name,
                "failed",
                (
                    f"Exercise `{name}`: your function changed {inputs} in place{where} (an in-place operation such "
                    f"as `-=`, `+=` or item assignment on an input). The caller's data must stay as it was: "
                    f"compute new values instead (e.g. `difference = encoding - stored`)."
                ),
            ), None
        expected = self.reference(*case.args, **case.kwargs)
        if not close(expected, actual, self.rtol, self.atol):
            return self.wrong_value(index, cases, records, decoded, mistakes, expected), expected
        if self.tensor_result and not is_tensor(actual):
            label = "NumPy instead of TensorFlow" if type_name(actual).startswith("numpy") else "not a tf.Tensor"
            return Verdict(
                name,
                "failed",
                (
                    f"Exercise `{name}`: the value is right{where}, but it is a {type_name(actual)}; the course "
                    f"expects a tf.Tensor.\n  Likely mistake ({label}): {GRAPH_HINT} "
                    f"(tf.reduce_sum, tf.square, tf.matmul, tf.transpose, tf.maximum ... return tensors)."
                ),
            ), expected
        return self.compiled_verdict(case, record, expected), expected

    def wrong_value(self, index, cases, records, decoded, mistakes, expected) -> Verdict:
        """The message of a wrong value: expected/got, then the mistake that explains every case, else
        a wrong type or shape, else the exercise's own hint."""
        case, actual = cases[index], decoded[index]
        message = (
            f"Exercise `{self.name}`: wrong result{self.where(case)}.\n  expected: {describe(expected)}\n"
            f"  got:      {describe(actual)}"
        )
        mistake = self.explaining_mistake(mistakes, cases, decoded, records, index, expected)
        problem = None if mistake else type_problem(expected, actual)
        if mistake:
            message += f"\n  Likely mistake ({mistake.name}): {mistake.hint}"
        elif problem:
            message += f"\n  Wrong type: {problem}"
        else:
            message += f"\n  {self.hint}"
        return Verdict(self.name, "failed", message)

    def compiled_verdict(self, case: Case, record: dict, expected) -> Verdict | None:
        """The verdict on the compiled run of a case whose direct run was right, or None when it is right too."""
        name, where = self.name, self.where(case)
        if self.compiled and "compiled" not in record:
            return Verdict(name, "error", f"the observation of `{name}` lacks the compiled run{where}")
        if "compiled" not in record:
            return None
        compiled = record["compiled"]
        if "error" in compiled:
            for error_hint in self.error_hints:
                if error_hint.matches(compiled["error"]):
                    return Verdict(
                        name,
                        error_hint.status,
                        crash_text(
                            name, compiled["error"], case.description, compiled=self.compiled, hint=error_hint.hint
                        ),
                    )
            return Verdict(name, "error", crash_text(name, compiled["error"], case.description, compiled=self.compiled))
        compiled_value = decode_value(compiled["result"])
        if close(expected, compiled_value, self.rtol, self.atol):
            return None
        inside = "inside tf.function" if self.compiled == "tf.function" else "inside a Keras model"
        hint = GRAPH_HINT if self.compiled == "tf.function" else KERAS_HINT
        return Verdict(
            name,
            "failed",
            (
                f"Exercise `{name}`: the right result when called directly, but not {inside}{where}.\n"
                f"  expected: {describe(expected)}\n  got:      {describe(compiled_value)}\n"
                f"  Likely mistake (Python or NumPy code that runs only once, when traced): {hint}."
            ),
        )

    def error_verdict(self, error: dict, description: str) -> Verdict:
        """The verdict on an error the learner's code raised: a stub, a known mistake, or a crash."""
        if error.get("stub"):
            return Verdict(self.name, "not attempted", stub_text(self.name, error))
        for error_hint in self.error_hints:
            if error_hint.matches(error):
                return Verdict(
                    self.name, error_hint.status, crash_text(self.name, error, description, hint=error_hint.hint)
                )
        return Verdict(self.name, "error", crash_text(self.name, error, description))

    def explaining_mistake(self, mistakes, cases, decoded, records, failing, expected) -> Mistake | None:
        """The first classic mistake that reproduces the learner's results on EVERY case it runs on
        (and on the failing case, where it differs from the right answer); None when none does."""
        actual = decoded[failing]
        for mistake in mistakes:
            wrong = _quietly_call(mistake.implementation, cases[failing])
            if (
                wrong is _NO_RESULT
                or not close(wrong, actual, self.rtol, self.atol)
                or close(wrong, expected, self.rtol, self.atol)
            ):
                continue
            agrees = True
            for index, case in enumerate(cases):
                if index == failing or "result" not in records[index] or isinstance(decoded[index], Oversized):
                    continue
                other = _quietly_call(mistake.implementation, case)
                if other is not _NO_RESULT and not close(other, decoded[index], self.rtol, self.atol):
                    agrees = False
                    break
            if agrees:
                return mistake
        return None
