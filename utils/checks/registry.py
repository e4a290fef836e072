"""Every checked exercise, in the course's order, and the public API: observe, judge, check.

:data:`ORDER` states the course's exercises in notebook order; each is declared once, in the
module of its course part (:meth:`utils.checks.declaration.Exercise.declare` registers it here).
:data:`EXERCISES` maps a name to its declaration, in :data:`ORDER` (an exercise registered
outside it, e.g. a test's, comes after them). Dependencies (``depends_on``) are named, and this
module resolves them, so a declaration never imports another.

The public API works on names: :func:`observe` (the kernel side), :func:`judge` (the verdict),
:func:`run_check` (both, in a notebook: what every ``check_<name>`` does), :func:`trusted_context`
(the context the grader judges with) and :func:`install_spies` (the grader's first cell).

Example:
    >>> ORDER[:3]
    ('triplet_loss', 'verify', 'who_is_it')
    >>> observation = observe("conv_output_size", lambda n, f, p, s: (n + 2 * p - f) // s + 1)
    >>> judge("conv_output_size", observation).status
    'passed'
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping

from utils.checks import instrumentation
from utils.errors import CheckFailed, ExerciseCrashed, ExerciseNotImplemented, UsageError

#: The course's checked exercises, in notebook order (01, 02, 03, 04, 05-06).
ORDER = (
    "triplet_loss",
    "verify",
    "who_is_it",
    "batch_hard_triplet_loss",
    "chi_square_features",
    "build_siamese_head",
    "compute_content_cost",
    "gram_matrix",
    "compute_layer_style_cost",
    "compute_style_cost",
    "total_cost",
    "train_step",
    "receptive_field_step",
    "conv_output_size",
    "conv_param_count",
)


class Registry(Mapping):
    """Exercise name -> declaration, iterated in :data:`ORDER` (then any other, in registration order)."""

    def __init__(self, order: tuple[str, ...]):
        self.order = order
        self._declared: dict = {}

    def __getitem__(self, name: str):
        return self._declared[name]

    def __iter__(self) -> Iterator[str]:
        yield from (name for name in self.order if name in self._declared)
        yield from (name for name in self._declared if name not in self.order)

    def __len__(self) -> int:
        return len(self._declared)

    def add(self, exercise) -> None:
        """Register ``exercise`` (a :class:`~utils.checks.declaration.Exercise`); a name is declared once."""
        if exercise.name in self._declared:
            raise UsageError(f"exercise {exercise.name!r} is declared twice")
        self._declared[exercise.name] = exercise

    def remove(self, name: str) -> None:
        """Forget ``name`` (a test's own exercise, once the test is done)."""
        self._declared.pop(name, None)


#: Every declared exercise, by name, in :data:`ORDER`.
EXERCISES = Registry(ORDER)


def exercise_named(name: str):
    """The declaration of exercise ``name``.

    Raises:
        UsageError: no exercise has that name.
    """
    try:
        return EXERCISES[name]
    except (KeyError, TypeError):
        raise UsageError(f"no check for exercise {name!r}; known: {', '.join(EXERCISES)}") from None


def dependencies_of(name: str) -> tuple[str, ...]:
    """``depends_on`` of ``name`` and theirs, earliest first.

    Example:
        >>> dependencies_of("compute_style_cost")
        ('gram_matrix', 'compute_layer_style_cost')
    """
    found: list[str] = []
    for dependency in exercise_named(name).depends_on:
        for inner in dependencies_of(dependency) + (dependency,):
            if inner not in found:
                found.append(inner)
    order = list(EXERCISES)
    return tuple(sorted(found, key=order.index))


def answer_key_names() -> set[str]:
    """Every qualified name of every exercise's answer key."""
    return {key for exercise in EXERCISES.values() for key in exercise.answer_key}


def observe(exercise: str, function: Callable, *context, seed: int | None = None, **options):
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
        The :class:`~utils.checks.observation.Observation`.

    Raises:
        UsageError: ``exercise`` is not a checked exercise.

    Example:
        >>> observe("conv_param_count", lambda f, rank, c_in, c_out: (f ** rank * c_in + 1) * c_out).runs["own"][0]
        {'result': 96}
    """
    return exercise_named(exercise).observe(function, context, options, seed)


_TRUSTED: dict = {}


def trusted_context(exercise: str) -> dict:
    """The context a grader judges ``exercise`` with, built from the course's assets (cached per process)."""
    declaration = exercise_named(exercise)
    builder = declaration.trusted_context
    if builder is None:
        return declaration.bind((), {})
    if builder not in _TRUSTED:  # verify and who_is_it share one builder: one encoder, one database
        _TRUSTED[builder] = builder()
    return dict(_TRUSTED[builder])


def judge(exercise: str, observation, *context, seed: int | None = None, grading: bool = False, **options):
    """Decide the verdict on ``observation``.

    Args:
        exercise: the exercise's name.
        observation: what :func:`observe` recorded (possibly read back with ``Observation.from_json``).
        *context, **options: the check's extra arguments; in grading none: the check builds a trusted
            context itself (:func:`trusted_context`).
        seed: the seed the observation was made with.
        grading: judge the run with the library's references substituted for ``depends_on`` (one
            mistake costs one exercise) and fail an exercise that called its answer key.

    Returns:
        A :class:`~utils.checks.observation.Verdict`.
    """
    declaration = exercise_named(exercise)
    context_given = bool(context or options)
    bound = trusted_context(exercise) if grading and not context_given else None
    return declaration.judge(observation, bound, context, options, seed, grading)


_RAISES = {"failed": CheckFailed, "error": ExerciseCrashed, "not attempted": ExerciseNotImplemented}


def run_check(exercise: str, function: Callable, *context, **options) -> None:
    """What ``check_<exercise>`` does in a notebook: observe, judge, then print "All tests passed." or raise.

    Raises:
        CheckFailed: a wrong answer; ExerciseCrashed: the learner's code raised;
        ExerciseNotImplemented: the learner's stub is still there.
    """
    observation = observe(exercise, function, *context, **options)
    verdict = judge(exercise, observation, *context, **options)
    if verdict.status != "passed":
        raise _RAISES[verdict.status](verdict.message)
    builtins.print("All tests passed.")


def install_spies(*exercises: str) -> None:
    """Replace the answer key of ``exercises`` (default: every exercise) by recording wrappers, for good.

    The grader runs this in a cell of its own before the learner's first cell, so every reference
    the learner's code takes to a reference implementation (an alias, a default argument, a
    closure) is the recording wrapper, and a check run afterwards knows it was called. A name
    that is not declared (yet) in this process is skipped.
    """
    names = [name for name in (exercises or tuple(EXERCISES)) if name in EXERCISES]
    instrumentation.SPIES.install(sorted({key for name in names for key in EXERCISES[name].answer_key}))
