"""What a submission is graded against: solution notebooks, their exercises and check cells, matching.

:class:`Solutions` reads every solution notebook of its folder when it is made. Before the first
kernel starts, :func:`read_submissions` reads each submission once, checks it (size, at most
:data:`MAX_CELLS` cells — a file with more JSON objects than that allows is refused before it is
parsed whole —, a course id or cells matching a solution notebook, a student id no other
submission has), keeps its sha256 and lets the parsed notebook go: a class of 500 is never held
in memory at once. When its turn comes, :meth:`Submission.load` reads it again, refuses it if
its bytes changed (what is graded is what was checked, never a file rewritten meanwhile) and
parses it fully. Links are refused: a submission that is a symbolic link (to the solution
notebook, say) is not a learner's own work.

Example:
    >>> import nbformat
    >>> solution = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_code_cell("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION"),
    ...     nbformat.v4.new_code_cell("checks.check_f(f)")])
    >>> assignment = Assignment.from_notebook(solution, "01_f", "01_f.ipynb")
    >>> [(exercise.name, exercise.points) for exercise in assignment.exercises]
    [('f', 1.0)]
    >>> [(check.index, check.exercise, check.calls) for check in assignment.checks]
    [(1, 'f', ('f',))]
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path

import nbformat

from utils import config
from utils.course import student
from utils.course.grading.text import clean_name, student_id
from utils.errors import NotebookFormatError, UsageError

#: Where the grader looks for solution notebooks unless told otherwise.
DEFAULT_SOLUTIONS = config.REPO_ROOT / "notebooks"

#: Largest notebook file the grader reads (bytes); a bigger "submission" is refused before any work.
MAX_NOTEBOOK_BYTES = 64 * 2**20

#: Most cells a graded notebook may have (the course's have under 100).
MAX_CELLS = 10_000

#: Most JSON objects a notebook file may hold (a cell, its metadata and its outputs are a few each):
#: past it, parsing stops at once, so 900,000 empty cells cost no more than this many objects.
MAX_OBJECTS = 30 * MAX_CELLS

_CHECK_CALL = re.compile(r"\bchecks\s*\.\s*check_\w+\s*\(")


@dataclasses.dataclass(frozen=True)
class CheckCell:
    """A check cell of a solution notebook.

    Attributes:
        key: the cell's key (its id), as student notebooks carry it in ``course.cell``.
        index: position in the solution notebook.
        exercise: the exercise it checks (the latest one above it that it names, else the latest).
        source: the solution's source (hidden checks included).
        student_source: the source learners see (hidden checks removed).
        calls: the exercises of its ``checks.check_<exercise>(...)`` calls, in order.
    """

    key: str
    index: int
    exercise: str
    source: str
    student_source: str
    calls: tuple = ()


def check_calls(source: str, where: str = "cell") -> list[tuple[str, ast.Expr]]:
    """The ``checks.check_<exercise>(...)`` statements of a check cell's source.

    Each must be a statement of its own at the top level of the cell (the grader replaces the
    statement by its own, see :mod:`utils.course.grading.plan`).

    Returns:
        ``(exercise, statement)`` pairs in source order.

    Raises:
        NotebookFormatError: the cell does not parse, or a check call is not a top-level statement.

    Example:
        >>> [name for name, _ in check_calls("x = 1\\nchecks.check_f(f, x, k=2);")]
        ['f']
    """
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError as error:
        raise NotebookFormatError(f"{where}: the check cell does not parse: {error}") from None
    top = []
    for statement in tree.body:
        name = student.check_call_name(statement.value) if isinstance(statement, ast.Expr) else None
        if name:
            top.append((name, statement))
    wanted = {id(statement.value) for _, statement in top}
    for node in ast.walk(tree):
        if student.check_call_name(node) and id(node) not in wanted:
            raise NotebookFormatError(
                f"{where}: `checks.check_{student.check_call_name(node)}(...)` must be a statement "
                f"of its own at the top level of the cell (line {node.lineno})"
            )
    return top


def _without_magics(source: str) -> str:
    """The source with IPython magics and shell lines blanked (so ``ast`` can parse it, lines kept)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


@dataclasses.dataclass
class Assignment:
    """A solution notebook read for grading.

    Attributes:
        notebook_id: the solution file's stem (the id student notebooks carry).
        path: the solution notebook's path (for messages only; its content is already read).
        exercises: the exercises in notebook order (names, points).
        checks: the check cells in notebook order.
        order: cell key -> index in the solution notebook.
        exercise_cells: cell key -> exercise defined in that cell.
        released: cell key -> the student version of that cell's source (what learners got).
        digest: sha256 of the solution notebook's bytes (a result records which version graded it).
    """

    notebook_id: str
    path: Path
    exercises: list[student.Exercise]
    checks: list[CheckCell]
    order: dict[str, int]
    exercise_cells: dict[str, str]
    released: dict[str, str]
    digest: str = ""

    @classmethod
    def from_notebook(cls, notebook, notebook_id: str, path, digest: str = "") -> Assignment:
        """Read the exercises and check cells of a solution notebook.

        Raises:
            NotebookFormatError: broken markers, a cell with both a solution region and checks, a
                check cell before any exercise, a check call that is not a statement of its own, or
                an exercise without a check cell.
        """
        path = Path(path)
        try:
            exercises = student.find_exercises(notebook)
        except NotebookFormatError as error:
            raise NotebookFormatError(f"{path}: {error}") from None
        order, exercise_cells, released, checks = {}, {}, {}, []
        defined: list[str] = []
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            key = student.cell_key(cell, index)
            order[key] = index
            released[key] = student.stub_source(cell.source, f"{path}: cell {index}")
            names = [exercise.name for exercise in exercises if exercise.cell == index]
            is_check = bool(_CHECK_CALL.search(cell.source)) or student.BEGIN_HIDDEN in cell.source
            if student.BEGIN_SOLUTION in cell.source:
                if is_check:
                    raise NotebookFormatError(
                        f"{path}: cell {index} holds a solution region and checks; "
                        f"put the checks in a cell of their own"
                    )
                exercise_cells[key] = names[-1] if names else _exercise_in(cell.source, exercises)
                defined.extend(name for name in names if name not in defined)
                continue
            if not is_check:
                continue
            if not defined:
                raise NotebookFormatError(f"{path}: cell {index} holds checks but comes before every exercise")
            calls = tuple(name for name, _ in check_calls(cell.source, f"{path}: cell {index}"))
            mentioned = [name for name in defined if re.search(rf"\b{re.escape(name)}\b", cell.source)]
            exercise = (mentioned or defined)[-1]
            checks.append(CheckCell(key, index, exercise, cell.source, released[key], calls))
        unchecked = [exercise.name for exercise in exercises if not any(c.exercise == exercise.name for c in checks)]
        if unchecked:
            raise NotebookFormatError(
                f"{path}: exercise `{unchecked[0]}` has no check cell (a cell calling "
                f"checks.check_... or holding hidden checks after it)"
            )
        return cls(notebook_id, path, exercises, checks, order, exercise_cells, released, digest)

    @property
    def max_score(self) -> float:
        """The points of every exercise together."""
        return float(sum(exercise.points for exercise in self.exercises))


def _exercise_in(source: str, exercises: list[student.Exercise]) -> str | None:
    """Exercise name of a cell that continues an exercise begun in an earlier cell."""
    for exercise in exercises:
        if re.search(rf"\bdef\s+{re.escape(exercise.name)}\b", source):
            return exercise.name
    return None


#: A notebook from its bytes (already read), validated: the student generator's parser, so a file
#: the generator refuses is refused here with the same one-line message.
parse_notebook = student.parse_notebook


def read_bytes(path, what: str = "submission") -> bytes:
    """The bytes of a regular file that is not a link, read once.

    Raises:
        UsageError: the path is a symbolic link, not a regular file, missing or too big.

    Example:
        >>> import os, tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> (folder / "real.ipynb").write_text("{}"); os.symlink(folder / "real.ipynb", folder / "link.ipynb")
        2
        >>> read_bytes(folder / "link.ipynb")    # doctest: +ELLIPSIS
        Traceback (most recent call last):
        utils.errors.UsageError: .../link.ipynb: the submission is a symbolic link; links are not graded (copy the file)
    """
    path = Path(path)
    if path.is_symlink():
        raise UsageError(f"{path}: the {what} is a symbolic link; links are not graded (copy the file)")
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if not path.is_file():
        raise UsageError(f"{path}: the {what} is not a regular file")
    try:  # no link followed even if one replaced the file since the check above
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise UsageError(f"{path}: the {what} cannot be read ({error.strerror})") from None
    with open(descriptor, "rb") as handle:
        data = handle.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise UsageError(f"{path}: the {what} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB")
    return data


class Solutions:
    """Every solution notebook of a folder, read into memory at once, by id (the file's stem).

    Raises:
        UsageError: not a folder, no notebook in it, or a notebook that is a link.
    """

    def __init__(self, folder=DEFAULT_SOLUTIONS):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise UsageError(f"solution folder {self.folder} is not a folder")
        self.paths = {
            path.stem: path for path in sorted(self.folder.glob("*.ipynb")) if path.is_file() or path.is_symlink()
        }
        if not self.paths:
            raise UsageError(f"solution folder {self.folder} holds no *.ipynb notebook")
        self.data = {notebook_id: read_bytes(path, "solution notebook") for notebook_id, path in self.paths.items()}
        self._notebooks: dict[str, object] = {}
        self._assignments: dict[str, Assignment] = {}

    def notebook(self, notebook_id: str):
        """The solution notebook ``notebook_id`` (parsed from the bytes read at the start)."""
        if notebook_id not in self._notebooks:
            self._notebooks[notebook_id] = parse_notebook(self.data[notebook_id], self.paths[notebook_id])
        return self._notebooks[notebook_id]

    def assignment(self, notebook_id: str) -> Assignment:
        """The :class:`Assignment` of solution notebook ``notebook_id``."""
        if notebook_id not in self._assignments:
            digest = hashlib.sha256(self.data[notebook_id]).hexdigest()
            self._assignments[notebook_id] = Assignment.from_notebook(
                self.notebook(notebook_id), notebook_id, self.paths[notebook_id], digest
            )
        return self._assignments[notebook_id]

    def match(self, submission, path) -> Assignment:
        """The assignment a submission belongs to: by its ``course.notebook`` id, else by cell ids.

        Raises:
            UsageError: no solution notebook matches.
        """
        course = submission.metadata.get("course")
        notebook_id = course.get("notebook") if isinstance(course, dict) else None
        if isinstance(notebook_id, str) and notebook_id in self.paths:
            return self.assignment(notebook_id)
        if notebook_id:
            raise UsageError(f"{path}: no solution notebook {str(notebook_id)[:80]!r} in {self.folder}")
        keys = {key for key in (submission_key(cell) for cell in submission.cells) if key}
        best, best_share = None, 0.0
        for candidate in self.paths:
            solution_keys = [
                student.cell_key(cell, index)
                for index, cell in enumerate(self.notebook(candidate).cells)
                if cell.cell_type == "code"
            ]
            share = sum(key in keys for key in solution_keys) / max(len(solution_keys), 1)
            if share > best_share:
                best, best_share = candidate, share
        if best is None or best_share < 0.5:
            raise UsageError(
                f"{path}: no matching solution notebook in {self.folder} (the notebook carries no "
                f"course id: was it made by `python -m utils.course.student`?)"
            )
        return self.assignment(best)


def submission_key(cell) -> str | None:
    """The solution cell a submission's cell claims to be (``course.cell`` metadata, else its id)."""
    metadata = cell.get("metadata")
    course = metadata.get("course") if isinstance(metadata, dict) else None
    key = course.get("cell") if isinstance(course, dict) else None
    if isinstance(key, str):
        return key
    cell_id = cell.get("id")
    return cell_id if isinstance(cell_id, str) else None


def scan_notebook(data: bytes, path) -> nbformat.NotebookNode:
    """The notebook in ``data`` as plain JSON (not validated), refused early when it is far too big.

    JSON parsing stops at the :data:`MAX_OBJECTS`-th object, so a file of 900,000 tiny cells costs
    little; a notebook of more than :data:`MAX_CELLS` cells is refused too.

    Raises:
        NotebookFormatError: not UTF-8, not JSON, not shaped like a notebook, or too many cells.

    Example:
        >>> scan_notebook(b'{"cells": [' + b",".join([b'{"cell_type": "code"}'] * 10_001) + b']}', "big.ipynb")
        Traceback (most recent call last):
        utils.errors.NotebookFormatError: big.ipynb: 10,001 cells; a notebook of more than 10,000 cells is not graded
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotebookFormatError(f"{path}: not a notebook (not UTF-8 text)") from None
    count = 0

    def counted(pairs):
        nonlocal count
        count += 1
        if count > MAX_OBJECTS:  # stops the parser at once
            raise NotebookFormatError(
                f"{path}: more than {MAX_OBJECTS:,} JSON objects; a notebook of more than "
                f"{MAX_CELLS:,} cells is not graded"
            )
        return dict(pairs)

    try:
        raw = json.loads(text, object_pairs_hook=counted)
    except NotebookFormatError:
        raise
    except (ValueError, RecursionError):
        raise NotebookFormatError(f"{path}: not a notebook (empty or not JSON)") from None
    if (
        not isinstance(raw, dict)
        or not isinstance(raw.get("cells"), list)
        or not all(isinstance(cell, dict) for cell in raw["cells"])
    ):
        raise NotebookFormatError(f"{path}: not a valid notebook (no list of cells)")
    if not isinstance(raw.get("metadata"), dict):
        raw["metadata"] = {}
    if len(raw["cells"]) > MAX_CELLS:
        raise NotebookFormatError(
            f"{path}: {len(raw['cells']):,} cells; a notebook of more than {MAX_CELLS:,} cells is not graded"
        )
    return nbformat.from_dict(raw)


@dataclasses.dataclass
class Submission:
    """One submitted notebook, checked before grading and loaded when its turn comes.

    Attributes:
        path: where it was read from (as given; used as its name in every report).
        digest: sha256 of the file's bytes when it was checked.
        assignment: the solution notebook it belongs to.
        student: the learner's id (:func:`~utils.course.grading.text.student_id` of the file name).
    """

    path: str
    digest: str
    assignment: Assignment
    student: str = ""

    def load(self) -> nbformat.NotebookNode:
        """Read the file again and parse it fully; it must still hold the bytes that were checked.

        Raises:
            UsageError: the file is gone, became a link, or its bytes changed since it was checked.
            NotebookFormatError: it is not a valid notebook.
        """
        data = read_bytes(self.path)
        if hashlib.sha256(data).hexdigest() != self.digest:
            raise UsageError(f"{self.path}: the file changed on disk after grading began; grade it again")
        return parse_notebook(data, self.path)  # the bytes read_submissions scanned (cell count, size)


def collect_submissions(arguments: list[str]) -> list[Path]:
    """The notebooks named on the command line; a folder stands for its ``*.ipynb`` files (sorted).

    Raises:
        UsageError: a path does not exist, is a link, or a folder holds no notebook.
    """
    paths: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_symlink():
            raise UsageError(f"{path}: the submission is a symbolic link; links are not graded (copy the file)")
        if path.is_dir():
            found = sorted(item for item in path.glob("*.ipynb") if not item.name.startswith("."))
            if not found:
                raise UsageError(f"folder {path} holds no *.ipynb submission")
            paths.extend(found)
        elif path.exists():
            paths.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return paths


def read_submissions(paths: list[Path], solutions: Solutions) -> list[Submission]:
    """Check and match every submission before any kernel starts, one at a time (see the module docstring).

    Raises:
        UsageError: a link, a missing or oversized file, no matching solution notebook, or two
            submissions of one notebook with the same student id (both named).
        NotebookFormatError: a file that is not a notebook, or one with too many cells.
    """
    submissions = []
    owners: dict[tuple[str, str], str] = {}
    for path in paths:
        data = read_bytes(path)
        notebook = scan_notebook(data, path)
        assignment = solutions.match(notebook, path)
        learner = student_id(str(path))
        key = (learner, assignment.notebook_id)
        if key in owners:
            raise UsageError(
                f"two submissions of {assignment.notebook_id} have the student id {learner!r}: "
                f"{clean_name(owners[key])} and {clean_name(path)}; rename one (the gradebook has one "
                f"row per student and notebook)"
            )
        owners[key] = str(path)
        submissions.append(Submission(str(path), hashlib.sha256(data).hexdigest(), assignment, learner))
        del data, notebook
    return submissions
