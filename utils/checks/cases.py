"""What a declaration is made of: its cases, its named mistakes, its error hints, the hidden cases' seed.

* :class:`Case`: one input of the exercise (arguments and a description for messages); a
  declaration's ``cases(context, seed)`` returns the public ones and, when ``seed`` is not None,
  hidden ones drawn from :func:`hidden_rng` (the grader's secret seed).
* :class:`Mistake`: a classic wrong implementation with the hint that explains it.
* :class:`ErrorHint`: an error whose record shows its cause, with the line to add.

Example:
    >>> Case((14, 5, 0, 1), description="n=14, f=5").args
    (14, 5, 0, 1)
    >>> int(hidden_rng(7, "conv_output_size").integers(100)) == int(hidden_rng(7, "conv_output_size").integers(100))
    True
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable

import numpy as np

__all__ = ["Case", "Mistake", "ErrorHint", "hidden_rng"]


@dataclasses.dataclass
class Case:
    """One input of an exercise: positional and keyword arguments, and a description for messages."""

    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    description: str = ""


@dataclasses.dataclass
class Mistake:
    """A classic wrong implementation and the hint that explains it.

    A mistake is named only when it reproduces the learner's results on every case, so each needs
    a case on which it differs from every other mistake of its exercise (a test checks this).

    Attributes:
        name: short label, e.g. ``"missing axis=-1"``.
        hint: what to tell the learner when their results match this mistake (true of every
            implementation that gives these results, not only of the one below).
        implementation: a function with the exercise's signature that makes exactly this mistake.
    """

    name: str
    hint: str
    implementation: Callable


@dataclasses.dataclass(frozen=True)
class ErrorHint:
    """An error whose record shows its cause: ``matches(error record)`` is True only for that cause.

    Attributes:
        matches: a predicate on the error record (:func:`~utils.checks.learner_errors.error_record`),
            e.g. the learner's line holds ``tf.multiply`` and the message an int32 dtype.
        hint: the line added to the message, e.g. "Likely mistake (...): ...".
        status: the verdict's status ("failed": a wrong answer; "error": a crash).
    """

    matches: Callable[[dict], bool]
    hint: str
    status: str = "failed"


def hidden_rng(seed: int, exercise: str) -> np.random.Generator:
    """The random generator of ``exercise``'s hidden cases for the grader's ``seed``."""
    return np.random.default_rng([seed % 2**63, zlib.crc32(exercise.encode())])
