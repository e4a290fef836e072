"""Where a verdict is decided: in the grader's own process, from what the kernel observed.

A check cell the grader runs publishes, for each ``checks.check_<exercise>(...)`` of the
solution, one observation (JSON) tagged with the token the grader chose for it. Here the grader
takes exactly that observation — none, two, or one with a token it did not ask for make the
exercise an ``error`` —, parses it strictly (:meth:`utils.checks.Observation.from_json`: never
executes or unpickles anything), checks that it is for the exercise and the secret seed asked,
and calls :func:`utils.checks.judge` with ``grading=True`` (the check builds its own trusted
context and the hidden cases from the seed). Nothing the learner's code can patch in the kernel
takes part in that decision; at worst it forges an observation, and a forged observation passes
only with right answers to cases drawn from a seed chosen after the learner's cells ran.

A hidden-check region (``### BEGIN HIDDEN CHECKS``) holds only ``checks.check_<exercise>(...)``
calls; each became an observation like the visible ones (:func:`~utils.course.grading.plan.observe_source`),
so hidden checks are judged here too, on cases drawn from the secret seed, and nothing of them is
decided in the kernel. Code of the check cell itself that raises after its observations can only
take points away (``AssertionError``: ``failed``, anything else: ``error``).

Example:
    >>> verdicts = Verdicts(["add", "sub"], {"add": 2.0, "sub": 1.0})
    >>> verdicts.record("add", "passed", "")
    >>> verdicts.record("add", "excellent", "trust me")   # not a status: an error
    >>> {name: (result.status, result.points) for name, result in verdicts.results("").items()}
    {'add': ('error', 0.0), 'sub': ('error', 0.0)}
"""

from __future__ import annotations

import dataclasses

from utils.checks import EXERCISES, OBSERVATION_LIMIT, STATUSES, Observation, judge
from utils.course.grading.kernel import Outcome
from utils.course.grading.plan import AnswerKeyUse, PlannedCell
from utils.course.grading.text import MESSAGE_LIMIT, clean_text


@dataclasses.dataclass
class ExerciseResult:
    """The grade of one exercise (``status`` is one of :data:`utils.checks.STATUSES`)."""

    status: str
    points: float
    max_points: float
    message: str = ""


def answer_keys(exercises) -> dict[str, tuple]:
    """Exercise -> qualified names of the library's references a learner must not call.

    Example:
        >>> answer_keys(["no_such_exercise"])
        {'no_such_exercise': ()}
    """
    return {name: EXERCISES[name].answer_key if name in EXERCISES else () for name in exercises}


def judge_observation(exercise: str, payload, token: str, seed: int) -> tuple[str, str]:
    """The verdict on one published payload: ``(status, message)``, decided here.

    Args:
        exercise: the exercise the grader asked the kernel to observe.
        payload: what the check cell published under the observation MIME type (untrusted).
        token: the tag the grader gave this observation.
        seed: the secret seed of the hidden cases.
    """
    if not (
        isinstance(payload, dict)
        and payload.get("token") == token
        and payload.get("exercise") == exercise
        and isinstance(payload.get("observation"), str)
    ):
        return "error", f"the check of `{exercise}` published an observation the grader did not ask for"
    text = payload["observation"]
    if len(text) > OBSERVATION_LIMIT:
        return "error", f"the observation of `{exercise}` is larger than {OBSERVATION_LIMIT} characters"
    try:
        observation = Observation.from_json(text)
    except ValueError as error:  # ObservationInvalid is a ValueError
        return "error", f"the observation of `{exercise}` is malformed ({clean_text(str(error), 300)})"
    if observation.exercise != exercise or observation.seed != seed:
        return "error", f"the observation of `{exercise}` is for another exercise or other cases"
    try:
        verdict = judge(exercise, observation, seed=seed, grading=True)
    except Exception as error:  # the grader's own checks failed on this observation: never a pass
        return (
            "error",
            f"the grader could not judge `{exercise}` ({type(error).__name__}: {clean_text(str(error), 300)})",
        )
    if verdict.status not in STATUSES:
        return "error", f"the check of `{exercise}` gave no valid status"
    return verdict.status, clean_text(verdict.message, MESSAGE_LIMIT)


def judge_check_cell(cell: PlannedCell, outcome: Outcome, seed: int) -> list[tuple[str, str, str]]:
    """Verdicts ``(exercise, status, message)`` from a check cell that ran (``outcome.kind`` ok or error).

    Each observation the cell had to publish (its visible and its hidden checks) must be there
    exactly once, with its token; any other observation published in the cell makes every exercise
    of the cell an error. When an observation passed and the cell's own code raised, that exercise
    is ``failed`` (an ``AssertionError``) or ``error``.
    """
    tokens = {token for _, token in cell.observations}
    stray = outcome.payload_count > len(outcome.payloads) or any(
        not isinstance(payload, dict) or payload.get("token") not in tokens for payload in outcome.payloads
    )
    verdicts = []
    for exercise, token in cell.observations:
        mine = [payload for payload in outcome.payloads if isinstance(payload, dict) and payload.get("token") == token]
        if stray or len(mine) > 1:
            status, message = (
                "error",
                (
                    f"the check cell of `{exercise}` published {outcome.payload_count} "
                    f"observations; only the grader's own one counts, so none does"
                ),
            )
        elif not mine:
            reason = f": {outcome.error}" if outcome.error else ""
            status, message = "error", f"the check of `{exercise}` did not run{reason}"
        else:
            status, message = judge_observation(exercise, mine[0], token, seed)
        verdicts.append((exercise, status, message))
    if outcome.kind == "error":
        hidden = "failed" if outcome.error_name == "AssertionError" else "error"
        what = outcome.error if hidden == "error" else (outcome.error.partition(": ")[2] or "a hidden check failed")
        if not verdicts:
            verdicts.append((cell.exercise, hidden, what))
        verdicts = [
            (exercise, hidden, what) if status == "passed" else (exercise, status, message)
            for exercise, status, message in verdicts
        ]
    elif stray and not cell.observations:
        verdicts.append(
            (
                cell.exercise,
                "error",
                f"the check cell of `{cell.exercise}` published "
                f"{outcome.payload_count} observations it was not asked for",
            )
        )
    return verdicts


class Verdicts:
    """Collects each exercise's verdicts; the first one that is not "passed" decides.

    Args:
        exercises: the exercise names in notebook order.
        points: exercise -> its points.
    """

    def __init__(self, exercises, points: dict[str, float]):
        self.exercises = list(exercises)
        self.points = points
        self.status: dict[str, tuple[str, str]] = {}
        self.learner_errors: dict[str, str] = {}
        self.answer_key: dict[str, str] = {}

    def record(self, exercise: str | None, status: str, message: str) -> None:
        """One verdict; an unknown status counts as "error" (its message is not kept)."""
        if exercise is None:
            return
        if status not in STATUSES:
            status, message = "error", "the check gave no valid status"
        current = self.status.get(exercise)
        if current is None or current[0] == "passed":
            self.status[exercise] = (status, clean_text(message, MESSAGE_LIMIT))

    def record_answer_key(self, uses: list[AnswerKeyUse]) -> None:
        """Static uses of the answer key: those exercises are "failed" whatever their checks say."""
        for use in uses:
            self.answer_key.setdefault(use.exercise, use.message())

    def results(self, stopped: str) -> dict[str, ExerciseResult]:
        """One :class:`ExerciseResult` per exercise; ``stopped``: why grading stopped early ("" if not)."""
        results = {}
        for name in self.exercises:
            status, message = self.status.get(name) or (
                "error",
                f"not graded: {stopped or 'no check of this exercise ran'}",
            )
            if name in self.answer_key:
                status, message = "failed", self.answer_key[name]
            elif status == "error" and name in self.learner_errors:
                message = f"the cell defining `{name}` raised {self.learner_errors[name]}; then {message}"
            points = self.points[name] if status == "passed" else 0.0
            results[name] = ExerciseResult(
                status, float(points), float(self.points[name]), clean_text(message, MESSAGE_LIMIT)
            )
        return results
