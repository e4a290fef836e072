"""One exception hierarchy: one line for humans, exit code 2, short in notebooks."""

import pytest

from utils import errors


@pytest.mark.parametrize(
    "error_class, builtin",
    [
        (errors.UsageError, ValueError),
        (errors.AssetError, FileNotFoundError),
        (errors.ImageError, ValueError),
        (errors.NoFaceError, ValueError),
        (errors.DatabaseError, ValueError),
        (errors.UnknownIdentityError, KeyError),
        (errors.NSTError, ValueError),
        (errors.MissingWeightsError, ValueError),
        (errors.DlibFormatError, ValueError),
        (errors.TrainingError, ValueError),
        (errors.NotebookFormatError, ValueError),
    ],
)
def test_every_library_error_is_a_course_error_and_its_natural_builtin(error_class, builtin):
    error = error_class("what went wrong, and what to do")
    assert isinstance(error, errors.CourseError) and isinstance(error, builtin)
    assert str(error) == "what went wrong, and what to do"
    assert errors.exit_code_for(error) == 2


def test_report_prints_one_line(capsys):
    status = errors.report(errors.AssetError("asset 'lfw' was not found. Looked in:\n  /a\n  /b", missing=True))
    assert status == 2
    assert capsys.readouterr().err == "error: asset 'lfw' was not found. Looked in: /a /b\n"
    assert errors.report(RuntimeError("bug")) == 1


def test_ipython_shows_only_the_message():
    assert errors.NoFaceError("cat.jpg: no face")._render_traceback_() == ["NoFaceError: cat.jpg: no face"]
    assert errors.CheckFailed("expected 2, got 3")._render_traceback_() == ["CheckFailed: expected 2, got 3"]
    assert isinstance(errors.ExerciseNotImplemented("x"), AssertionError)
