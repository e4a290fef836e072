"""Exercise checks with mistake-specific hints, shared by the notebooks, the tests and the grader.

Usage in a notebook::

    from utils import checks
    checks.check_triplet_loss(triplet_loss)   # prints "All tests passed." or raises CheckFailed

How a check works: it is split in two (see :mod:`utils.checks._core`).
:func:`observe` runs in the learner's kernel: it calls the learner's function on the check's
cases, each on pristine copies of its inputs, and records plain observations (values, errors,
inputs changed in place, the compiled run, library references called, and, for an exercise that
calls earlier ones, a second run with the library's versions of those). :func:`judge` decides:
it rebuilds the cases, computes the expected values with the library's references, and names a
classic mistake only when it reproduces the learner's results on every case; otherwise it shows
expected/got and the exercise's own hint. ``check_<exercise>`` does both in the notebook's
process and prints "All tests passed." or raises ``CheckFailed`` (``ExerciseNotImplemented`` for
a stub, ``ExerciseCrashed`` for an error) with one short message, shown by IPython without a
traceback; a check returns None, so a check cell echoes nothing. The grader calls
``observe(..., seed=S)`` in the learner's kernel and ``judge(..., seed=S, grading=True)`` in its
own process on ``Observation.from_json`` of what came back.

Submodules, one per course part: ``faces`` (notebooks 01 and 03), ``training`` (02), ``nst``
(04), ``convnets`` (05-06).
"""

from utils.checks._core import (EXERCISES, STATUSES, ExerciseCheck, Observation, Verdict, check_function, judge,
                                observe, trusted_context)
from utils.checks._framework import Case, Mistake
from utils.checks._serialize import OBSERVATION_LIMIT
from utils.checks.faces import *  # noqa: F401,F403  (notebooks 01 and 03, in notebook order)
from utils.checks.training import *  # noqa: F401,F403
from utils.checks.nst import *  # noqa: F401,F403
from utils.checks.convnets import *  # noqa: F401,F403
from utils.errors import CheckFailed, ExerciseCrashed, ExerciseNotImplemented, ObservationInvalid  # noqa: F401
