"""Every exception the course library raises on purpose, in one place.

All of them derive from :class:`CourseError`, so a command line can catch that one class, print
the message as one line and exit with status 2 (:func:`exit_code_for`). Each also derives from
the built-in class a caller would naturally catch (``ValueError`` for bad input,
``FileNotFoundError`` for a missing asset, ``KeyError`` for an unknown identity), so code that
predates this module keeps working.

The learner-facing exercise checks raise :class:`CheckFailed` (an ``AssertionError``): it is not a
library error but a verdict on the learner's code, and IPython shows it as one short message
(see :mod:`utils.checks`).

Example:
    >>> from utils import errors
    >>> try:
    ...     raise errors.NoFaceError("cat.jpg: no face found")
    ... except errors.CourseError as error:
    ...     print(errors.exit_code_for(error), error)
    2 cat.jpg: no face found
"""

from __future__ import annotations

import sys


class _ShortInNotebooks:
    """Mixin: IPython shows the exception as its message alone, without a traceback.

    The message of a deliberate error already says what is wrong and how to fix it; 20 lines of
    library frames above it only hide that. IPython (Jupyter) calls ``_render_traceback_`` when an
    exception defines it; plain Python still prints the full traceback.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class CourseError(_ShortInNotebooks, Exception):
    """Base class of every deliberate error of the library: one line for a human, exit code 2."""


class UsageError(CourseError, ValueError):
    """A command line or function was called with arguments that cannot work."""


class AssetError(CourseError, FileNotFoundError):
    """A registered weight file or data set is missing, corrupt, or could not be fetched.

    ``missing`` is True when the asset was found nowhere (as opposed to found but corrupt).
    """

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ImageError(CourseError, ValueError):
    """An image file could not be read, or an array is not a valid image."""


class NoFaceError(CourseError, ValueError):
    """No face was found in an image (the message names the image)."""


class DatabaseError(CourseError, ValueError):
    """A face database file is missing, unreadable, corrupt or of another format version."""


class UnknownIdentityError(CourseError, KeyError):
    """A name was asked of a face database that does not hold it."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NSTError(CourseError, ValueError):
    """Bad style-transfer input (sizes, layers, presets, settings), raised before any work starts."""


class MissingWeightsError(NSTError):
    """A VGG19 layer that a style-transfer objective needs has no weights in the file in use."""


class DlibFormatError(CourseError, ValueError):
    """A dlib ``.dat`` file does not hold the face ResNet this project converts."""


class TrainingError(CourseError, ValueError):
    """Triplet training cannot start with the data or settings given."""


class NotebookFormatError(CourseError, ValueError):
    """A notebook is unreadable, or its exercise markers are unbalanced or nested."""


class GradingError(CourseError):
    """The autograder cannot go on: a kernel that does not start, the course library changed on disk."""


class KernelMessageError(GradingError, ValueError):
    """A learner's kernel sent a message the grader cannot trust (that submission ends as an error)."""


class KernelLostError(GradingError):
    """A learner's kernel died while the grader waited for it (the grader replaces it)."""


class CheckFailed(_ShortInNotebooks, AssertionError):
    """The learner's function gave a wrong answer (the message says what and why)."""


class ExerciseNotImplemented(CheckFailed):
    """The learner's function still raises its own ``NotImplementedError`` stub."""


class ExerciseCrashed(CheckFailed):
    """The learner's function raised an exception while the check ran it (the message says where)."""


class ExerciseUnusable(CheckFailed):
    """The learner's function returned something the check cannot use at all (e.g. no Keras model).

    ``key`` names the problem for the check's message table; ``detail`` says what came back.
    """

    def __init__(self, key: str, detail: str = ""):
        super().__init__(detail or key)
        self.key, self.detail = key, detail


class CheckContextError(CourseError, ValueError):
    """A check was called with extra arguments it cannot use (e.g. no course database)."""


class ObservationInvalid(CourseError, ValueError):
    """A check's observation (JSON from a learner's kernel) is malformed, oversized or unknown.

    Raised by ``utils.checks.Observation.from_json``, which reads untrusted text strictly.
    """


def exit_code_for(error: BaseException) -> int:
    """The command-line exit status for ``error``: 2 for a user error, 1 otherwise."""
    return 2 if isinstance(error, (CourseError, OSError)) else 1


def report(error: BaseException, stream=None) -> int:
    """Print ``error: <message>`` as one line on stderr and return its exit status."""
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"error: {message}", file=stream or sys.stderr)
    return exit_code_for(error)
