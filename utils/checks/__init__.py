"""Exercise checks with mistake-specific hints, shared by the notebooks, the tests and the grader.

Usage in a notebook::

    from utils import checks
    checks.check_triplet_loss(triplet_loss)   # prints "All tests passed." or raises CheckFailed

How a check works (see :func:`check_function`): it runs the learner's function on a few inputs
and compares with the project's reference implementation; on a wrong result it also runs the
classic mistakes written for that exercise and names the one that matches the learner's results
best. Where the course needs it, the result must be a ``tf.Tensor`` and the function must also
work compiled (inside ``tf.function``, or on ``keras.Input`` tensors). A failure raises
``CheckFailed`` with one short message (expected, got, hint), shown by IPython without a
traceback; a check returns None, so a check cell echoes nothing.
Submodules, one per course part: ``faces`` (notebooks 01 and 03), ``training`` (02), ``nst``
(04), ``convnets`` (05-06).
"""

from utils.checks._framework import Case, Mistake, check_function
from utils.checks.convnets import *  # noqa: F401,F403
from utils.checks.faces import *  # noqa: F401,F403
from utils.checks.nst import *  # noqa: F401,F403
from utils.checks.training import *  # noqa: F401,F403
from utils.errors import CheckFailed, ExerciseNotImplemented  # noqa: F401
