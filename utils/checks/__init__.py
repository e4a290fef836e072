"""Exercise checks with mistake-specific hints, shared by the notebooks, the tests and the grader.

Usage in a notebook::

    from utils import checks
    checks.check_triplet_loss(triplet_loss)   # prints "All tests passed." or raises CheckFailed

A check is split in two. :func:`observe` runs in the learner's kernel: it calls the learner's
function on the check's cases, each on pristine copies of its inputs, and records plain
observations (values, errors, inputs changed in place, the compiled run, library references
called, and, for an exercise that calls earlier ones, a second run with the course's versions of
those). :func:`judge` decides: it rebuilds the cases, computes the expected values with the
library's references, and names a classic mistake only when it reproduces the learner's results
on every case; otherwise it says what is known (expected/got, type, shape) and the exercise's own
hint. ``check_<exercise>`` does both in the notebook's process and prints "All tests passed." or
raises ``CheckFailed`` (``ExerciseNotImplemented`` for a stub, ``ExerciseCrashed`` for an error)
with one short message, shown by IPython without a traceback. The grader calls
``observe(..., seed=S)`` in the learner's kernel and ``judge(..., seed=S, grading=True)`` in its
own process on ``Observation.from_json`` of what came back.

Modules, one concept each: :mod:`~utils.checks.values` (values as JSON),
:mod:`~utils.checks.observation` (the observation, its strict reader, the verdict),
:mod:`~utils.checks.comparing`, :mod:`~utils.checks.learner_errors`,
:mod:`~utils.checks.instrumentation` (the kernel side), :mod:`~utils.checks.declaration` (one
exercise, declared once), :mod:`~utils.checks.registry` (every exercise in order, and the public
API), then one module per course part: ``triplet`` and ``faces`` (01), ``training`` (02), ``siamese`` (03),
``nst`` and ``train_step`` (04), ``convnets`` (05-06). docs/ADDING_AN_EXERCISE.md adds one.
"""

from utils.checks.cases import Case, ErrorHint, Mistake, hidden_rng
from utils.checks.convnets import check_conv_output_size, check_conv_param_count, check_receptive_field_step
from utils.checks.declaration import Exercise
from utils.checks.faces import check_verify, check_who_is_it
from utils.checks.nst import (
    check_compute_content_cost,
    check_compute_layer_style_cost,
    check_compute_style_cost,
    check_gram_matrix,
    check_total_cost,
)
from utils.checks.observation import STATUSES, Observation, Verdict
from utils.checks.registry import EXERCISES, ORDER, install_spies, judge, observe, run_check, trusted_context
from utils.checks.siamese import check_build_siamese_head, check_chi_square_features
from utils.checks.train_step import check_train_step
from utils.checks.training import check_batch_hard_triplet_loss
from utils.checks.triplet import check_triplet_loss
from utils.checks.values import OBSERVATION_LIMIT
from utils.errors import CheckFailed, ExerciseCrashed, ExerciseNotImplemented, ObservationInvalid

__all__ = [
    # the checks the notebooks call, in ORDER
    "check_triplet_loss",
    "check_verify",
    "check_who_is_it",
    "check_batch_hard_triplet_loss",
    "check_chi_square_features",
    "check_build_siamese_head",
    "check_compute_content_cost",
    "check_gram_matrix",
    "check_compute_layer_style_cost",
    "check_compute_style_cost",
    "check_total_cost",
    "check_train_step",
    "check_receptive_field_step",
    "check_conv_output_size",
    "check_conv_param_count",
    # the split: observe in the kernel, judge where the verdict is decided
    "observe",
    "judge",
    "run_check",
    "trusted_context",
    "install_spies",
    "Observation",
    "Verdict",
    "STATUSES",
    "OBSERVATION_LIMIT",
    "EXERCISES",
    "ORDER",
    # declaring an exercise
    "Exercise",
    "Case",
    "Mistake",
    "ErrorHint",
    "hidden_rng",
    # what a check raises
    "CheckFailed",
    "ExerciseCrashed",
    "ExerciseNotImplemented",
    "ObservationInvalid",
]
