"""Generate student notebooks from the solution notebooks.

Instructors maintain one copy of each notebook, with solutions. This module derives the version a
learner opens:

* every solution region — the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` inside a
  code cell — becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError(...)`` at the same
  indentation, naming the exercise (the function the region sits in);
* every hidden-check region — ``### BEGIN HIDDEN CHECKS`` to ``### END HIDDEN CHECKS`` — is removed.
  Such a region holds only ``checks.check_<exercise>(...)`` calls (and comments): the grader turns
  each into an observation judged in its own process with hidden cases, and never sends the
  region's text to the learner's kernel (:func:`hidden_check_calls`; anything else is refused);
* outputs and execution counts are stripped;
* the folder ``images/`` beside the solution notebooks (the concept diagrams of
  :mod:`utils.course.diagrams`, which the markdown shows as ``images/<name>.png``) is copied beside
  the student notebooks, so those links keep working;
* the notebook's metadata gets ``course = {"notebook": <solution file stem>, "generator": ...,
  "student_version": true}`` and every code cell ``course = {"cell": <solution cell id>}``, so the
  autograder (:mod:`utils.course.grading`) finds the solution notebook and its check cells whatever
  the learner renames the file to. Anything else an instructor put under a cell's ``course``
  metadata (``points``) stays in the solution notebook.

An exercise is worth one point unless its solution notebook says otherwise, once: on the marker
line (``### BEGIN SOLUTION (points=2)``) or in the cell's metadata (``{"course": {"points": 2}}``).
A region outside any function is named on its marker (``### BEGIN SOLUTION (name=answer)``).

The generator never writes over a solution notebook: every file it would replace must be a student
notebook it made before (``--out`` equal to the source folder, a symbolic or hard link to a source,
or any other notebook is refused before anything is written). Every notebook is converted before
the first is written, and the student notebooks are written to temporaries that replace their
destinations only once all of them are written (:func:`utils.files.atomic_path`), so an unreadable
notebook, broken markers or a failed write leave the output folder as it was. Errors raise
:class:`utils.errors.NotebookFormatError` or :class:`utils.errors.UsageError` naming the file, the
cell and the line; the command line prints them as one line and exits with status 2.

Usage::

    python -m utils.course.student notebooks --out notebooks/student     # (what `make students` runs)

Example:
    >>> source = "def f(x):\\n    ### BEGIN SOLUTION\\n    return x + 1\\n    ### END SOLUTION\\n"
    >>> print(stub_source(source))
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError("Exercise `f`: replace this line with your code.")
    <BLANKLINE>
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import dataclasses
import math
import os
import re
from pathlib import Path

import nbformat

from utils import files
from utils.errors import CourseError, NotebookFormatError, UsageError, report

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN CHECKS"
END_HIDDEN = "### END HIDDEN CHECKS"

#: Name of this generator, written into every student notebook's metadata.
GENERATOR = "utils.course.student"

#: Points of an exercise whose solution notebook declares none.
DEFAULT_POINTS = 1.0

#: The end of every stub's ``NotImplementedError`` message ("Exercise `f`: replace this line ...").
STUB_TEXT = "replace this line with your code."

_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(")
_BEGIN_SOLUTION_LINE = re.compile(r"^### BEGIN SOLUTION(?:\s*\((?P<options>[^()]*)\))?$")
_OPTION = re.compile(r"^\s*(?P<key>\w+)\s*=\s*(?P<value>[^,=\s]+)\s*$")


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise of a solution notebook.

    Attributes:
        name: the function its solution region sits in (or the ``name=`` of its marker).
        points: what it is worth (``DEFAULT_POINTS`` unless declared).
        cell: index in ``notebook.cells`` of the first cell holding its solution.
    """

    name: str
    points: float
    cell: int


def _enclosing_function(lines: list[str], index: int, indent: int) -> str | None:
    """Name of the innermost ``def`` above line ``index`` that is less indented than the region."""
    for line in reversed(lines[:index]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < indent:
            return match.group(2)
    return None


def _points(value, where: str) -> float:
    try:
        points = float(value)
    except (TypeError, ValueError):
        points = math.nan
    if not math.isfinite(points) or points < 0 or isinstance(value, bool):
        raise NotebookFormatError(f"{where}: points must be a number >= 0; got {value!r}")
    return points


def _marker_options(marker: str, where: str) -> dict | None:
    """``{"points": 2.0, "name": "f"}`` from ``### BEGIN SOLUTION (points=2, name=f)``; None if not a marker."""
    match = _BEGIN_SOLUTION_LINE.match(marker)
    if match is None:
        if marker.startswith(BEGIN_SOLUTION):
            raise NotebookFormatError(f"{where}: cannot read {marker!r}; write e.g. '{BEGIN_SOLUTION} (points=2)'")
        return None
    options = {}
    text = match.group("options")
    for item in text.split(",") if text and text.strip() else []:
        option = _OPTION.match(item)
        key = option.group("key") if option else None
        if key == "points":
            options["points"] = _points(option.group("value"), where)
        elif key == "name" and option.group("value").isidentifier():
            options["name"] = option.group("value")
        else:
            raise NotebookFormatError(
                f"{where}: unknown option {item.strip()!r} in {marker!r} (allowed: points=NUMBER, name=IDENTIFIER)"
            )
    return options


def _convert(source: str, where: str) -> tuple[str, list[tuple[str | None, dict]]]:
    """The student version of one cell's source, and its solution regions as (name, options)."""
    lines = source.split("\n")
    output: list[str] = []
    regions: list[tuple[str | None, dict]] = []
    state = None  # None, "solution" or "hidden"
    start = 0
    for index, line in enumerate(lines):
        marker = line.strip()
        here = f"{where}: line {index + 1}"
        options = _marker_options(marker, here)
        if options is not None or marker == BEGIN_HIDDEN:
            if state is not None:
                shown = BEGIN_SOLUTION if options is not None else marker
                raise NotebookFormatError(f"{here}: {shown!r} inside an open region")
            state = "solution" if options is not None else "hidden"
            start = index
            if state == "solution":
                indent = len(line) - len(line.lstrip())
                name = options.get("name") or _enclosing_function(lines, index, indent)
                regions.append((name, options))
                label = f"Exercise `{name}`" if name else "Exercise"
                pad = line[:indent]
                output.append(f"{pad}# YOUR CODE HERE")
                output.append(f'{pad}raise NotImplementedError("{label}: {STUB_TEXT}")')
            continue
        if marker in (END_SOLUTION, END_HIDDEN):
            expected = "solution" if marker == END_SOLUTION else "hidden"
            if state != expected:
                raise NotebookFormatError(f"{here}: {marker!r} without its BEGIN marker")
            if state == "hidden":
                _hidden_calls(lines[start + 1 : index], where, start + 1)
            state = None
            continue
        if state is None:
            output.append(line)
    if state is not None:
        raise NotebookFormatError(f"{where}: region opened at line {start + 1} is never closed")
    return "\n".join(output), regions


def check_call_name(node) -> str | None:
    """The exercise of a ``checks.check_<name>(...)`` call node (``"<name>"``), or None for any other node."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "checks"
        and node.func.attr.startswith("check_")
    ):
        return node.func.attr[len("check_") :]
    return None


#: What the arguments of a hidden check may hold: names, attributes, items, constants, containers
#: (no call, lambda or comprehension: nothing of the region runs but the check).
_ARGUMENT_NODES = (
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Dict,
    ast.Set,
    ast.Load,
    ast.UnaryOp,
    ast.USub,
    ast.UAdd,
    ast.Slice,
    ast.Starred,
    ast.keyword,
)


def _hidden_calls(lines: list[str], where: str, first: int) -> list[ast.Call]:
    """The ``checks.check_<exercise>(...)`` calls of a hidden region's lines (``first``: the index of its
    first line in the cell); NotebookFormatError, naming the line, for anything else."""
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError as error:
        number = first + (error.lineno or 1)
        raise NotebookFormatError(
            f"{where}: line {number}: a hidden-check region holds code that does not parse "
            f"at the top level of the cell ({error.msg})"
        ) from None
    calls = []
    for statement in tree.body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        arguments = [*call.args, *call.keywords] if check_call_name(call) else []
        if (
            call is None
            or not check_call_name(call)
            or not all(isinstance(node, _ARGUMENT_NODES) for argument in arguments for node in ast.walk(argument))
        ):
            line = lines[statement.lineno - 1].strip()
            raise NotebookFormatError(
                f"{where}: line {first + statement.lineno}: a hidden-check region may hold only "
                f"`checks.check_<exercise>(...)` calls whose arguments are names or values (the grader judges each "
                f"with hidden cases, outside the learner's kernel); found `{line[:80]}`"
            )
        calls.append(call)
    return calls


def hidden_check_calls(source: str, where: str = "cell") -> list[tuple[int, int, list[ast.Call]]]:
    """The hidden-check regions of one cell's source: ``(begin line, end line, calls)`` per region.

    Lines are 0-based indices of the two marker lines; each call's ``lineno`` counts from the
    region's first line inside the markers (1).

    Raises:
        NotebookFormatError: broken markers, or a region holding anything but
            ``checks.check_<exercise>(...)`` calls and comments.

    Example:
        >>> source = "x = 1\\n### BEGIN HIDDEN CHECKS\\n# more cases\\nchecks.check_f(f, k=2)\\n### END HIDDEN CHECKS"
        >>> [(begin, end, [ast.unparse(call) for call in calls]) for begin, end, calls in hidden_check_calls(source)]
        [(1, 4, ['checks.check_f(f, k=2)'])]
        >>> hidden_check_calls("### BEGIN HIDDEN CHECKS\\nassert f(1) == 2\\n### END HIDDEN CHECKS", "cell 7")
        Traceback (most recent call last):
        utils.errors.NotebookFormatError: cell 7: line 2: a hidden-check region may hold only `checks.check_<exercise>(...)` calls whose arguments are names or values (the grader judges each with hidden cases, outside the learner's kernel); found `assert f(1) == 2`
    """
    _convert(source, where)
    lines, regions, begin = source.split("\n"), [], None
    for index, line in enumerate(lines):
        if line.strip() == BEGIN_HIDDEN:
            begin = index
        elif line.strip() == END_HIDDEN and begin is not None:
            regions.append((begin, index, _hidden_calls(lines[begin + 1 : index], where, begin + 1)))
            begin = None
    return regions


def stub_source(source: str, where: str = "cell") -> str:
    """Replace solution regions with stubs and drop hidden-check regions in one cell's source.

    Args:
        source: the code cell's source.
        where: a description of the cell for error messages.

    Returns:
        The student version of the source.

    Raises:
        NotebookFormatError: markers are unbalanced or nested, a marker's options are unreadable, or a
            hidden-check region holds anything but ``checks.check_<exercise>(...)`` calls.

    Example:
        >>> stub_source("checks.check_f(f)\\n### BEGIN HIDDEN CHECKS\\nchecks.check_f(f, k=2)\\n### END HIDDEN CHECKS")
        'checks.check_f(f)'
    """
    return _convert(source, where)[0]


def _check_parses(source: str, where: str) -> None:
    """Raise NotebookFormatError (naming the cell) if the stubbed source is not valid Python."""
    body = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    try:
        ast.parse(body)
    except SyntaxError as error:
        raise NotebookFormatError(f"{where}: the student version does not parse: {error}") from None


def cell_key(cell, index: int) -> str:
    """The key that ties a student cell to its solution cell: the cell's id (``cell-N`` without one)."""
    return str(cell.get("id") or f"cell-{index}")


def find_exercises(notebook) -> list[Exercise]:
    """The exercises of a solution notebook, in notebook order, with their points.

    Several regions in one function make one exercise. Points are declared at most once per
    exercise — on a marker line or in the cell's ``course.points`` metadata; two different
    declarations are an error.

    Raises:
        NotebookFormatError: broken markers, unreadable options, or conflicting points.

    Example:
        >>> import nbformat
        >>> notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        ...     "def f(x):\\n    ### BEGIN SOLUTION (points=2)\\n    return x\\n    ### END SOLUTION")])
        >>> find_exercises(notebook)
        [Exercise(name='f', points=2.0, cell=0)]
    """
    declared: dict[str, set[float]] = {}
    first_cell: dict[str, int] = {}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {index}"
        _, regions = _convert(cell.source, where)
        course = cell.metadata.get("course") or {}
        cell_points = _points(course["points"], f"{where}: metadata course.points") if "points" in course else None
        if cell_points is not None and not regions:
            raise NotebookFormatError(f"{where}: metadata course.points on a cell without a solution region")
        for name, options in regions:
            name = name or f"exercise_{len(first_cell) + 1}"
            first_cell.setdefault(name, index)
            values = declared.setdefault(name, set())
            values.update(value for value in (options.get("points"), cell_points) if value is not None)
            if len(values) > 1:
                raise NotebookFormatError(
                    f"{where}: exercise `{name}` is given different points "
                    f"({', '.join(f'{value:g}' for value in sorted(values))}); "
                    f"declare them once"
                )
    return [
        Exercise(name, next(iter(declared[name])) if declared[name] else DEFAULT_POINTS, cell)
        for name, cell in first_cell.items()
    ]


def make_student_notebook(notebook, notebook_id: str | None = None):
    """Return a student copy of an ``nbformat`` notebook (the input is not modified).

    Args:
        notebook: the solution notebook.
        notebook_id: the id the autograder matches submissions by (the solution file's stem).

    Raises:
        NotebookFormatError: a cell's markers are unbalanced or nested, or its student version is
            not valid Python.
    """
    find_exercises(notebook)  # points declared twice, unreadable options: refuse before writing
    student = copy.deepcopy(notebook)
    for number, cell in enumerate(student.cells):
        cell.metadata.pop("course", None)
        if cell.cell_type == "code":
            where = f"cell {number}"
            cell.source = stub_source(cell.source, where)
            _check_parses(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata["course"] = {"cell": cell_key(notebook.cells[number], number)}
        cell.metadata.pop("execution", None)
    course = {"generator": GENERATOR, "student_version": True}
    if notebook_id:
        course = {"notebook": notebook_id, **course}
    student.metadata["course"] = course
    return student


def count_exercises(notebook) -> int:
    """Number of solution regions in a notebook."""
    return sum(
        1
        for cell in notebook.cells
        if cell.cell_type == "code"
        for line in cell.source.split("\n")
        if line.strip().startswith(BEGIN_SOLUTION)
    )


def is_student_notebook(notebook) -> bool:
    """Whether a notebook was written by this generator (its metadata says so)."""
    course = notebook.get("metadata", {}).get("course")
    return isinstance(course, dict) and course.get("student_version") is True


def parse_notebook(data: bytes, path) -> nbformat.NotebookNode:
    """A notebook from its bytes (already read), validated.

    Args:
        data: the file's bytes.
        path: the file's name, for messages.

    Returns:
        The notebook (nbformat version 4).

    Raises:
        NotebookFormatError: not UTF-8, not JSON, or not a valid notebook (the message names ``path``).

    Example:
        >>> parse_notebook(b"Dear teacher", "essay.ipynb")
        Traceback (most recent call last):
        utils.errors.NotebookFormatError: essay.ipynb: not a notebook (empty or not JSON)
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotebookFormatError(f"{path}: not a notebook (not UTF-8 text)") from None
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except nbformat.reader.NotJSONError:
        raise NotebookFormatError(f"{path}: not a notebook (empty or not JSON)") from None
    except Exception as error:  # nbformat raises ValidationError, AttributeError, TypeError, KeyError...
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise NotebookFormatError(f"{path}: not a valid notebook ({reason})") from None
    return notebook


def read_notebook(path) -> nbformat.NotebookNode:
    """Read and validate a notebook file (see :func:`parse_notebook`).

    Raises:
        NotebookFormatError: the file cannot be read or is not a valid notebook (the message names
            the file and says why, in one line).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise NotebookFormatError(f"{path}: cannot read it ({error.strerror or error})") from None
    return parse_notebook(data, path)


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _check_targets(sources: list[Path], out_dir: Path) -> None:
    """Refuse, before anything is written, every destination that could be a solution notebook."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file, not a folder")
    if out_dir.is_dir() and sources and _same_file(out_dir, sources[0].parent):
        raise UsageError(
            f"--out {out_dir} is the source folder; the student notebooks would replace "
            f"the solution notebooks. Choose another folder (e.g. {sources[0].parent / 'student'})"
        )
    for source in sources:
        target = out_dir / source.name
        if not (target.exists() or target.is_symlink()):
            continue
        if target.is_symlink() or target.is_dir():
            raise UsageError(
                f"{target} is a {'link' if target.is_symlink() else 'folder'}; refusing to "
                f"replace it with a student notebook"
            )
        if any(_same_file(target, other) for other in sources):
            raise UsageError(f"{target} is the same file as a source notebook; refusing to overwrite it")
        try:
            existing = read_notebook(target)
        except NotebookFormatError:
            existing = None
        if existing is None or not is_student_notebook(existing):
            raise UsageError(
                f"{target} exists and is not a student notebook made by this generator; "
                f"refusing to overwrite it (move it away or choose another --out)"
            )


#: The folder beside the notebooks whose files the markdown shows (``images/<name>.png``).
IMAGES_DIR = "images"


def _image_files(source_dir: Path, out_dir: Path) -> list[tuple[Path, Path]]:
    """(source, destination) of every file under ``source_dir/images``; refuses links in the way."""
    images = source_dir / IMAGES_DIR
    if not images.is_dir():
        return []
    target = out_dir / IMAGES_DIR
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise UsageError(
            f"{target} is a {'link' if target.is_symlink() else 'file'}; refusing to copy "
            f"the notebooks' images into it (move it away or choose another --out)"
        )
    if _same_file(target, images):
        raise UsageError(f"{target} is the source's {IMAGES_DIR} folder; choose another --out")
    pairs = []
    for path in sorted(images.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            destination = target / path.relative_to(images)
            if destination.is_symlink() or destination.is_dir():
                raise UsageError(
                    f"{destination} is a {'link' if destination.is_symlink() else 'folder'}; "
                    f"refusing to replace it with a copy of {path.name}"
                )
            pairs.append((path, destination))
    return pairs


def generate(source_dir: Path, out_dir: Path) -> list[Path]:
    """Write a student version of every ``*.ipynb`` in ``source_dir`` into ``out_dir``.

    Every notebook is converted and every destination checked before the first is written; the
    files replace their destinations only once all of them are written, so a failure leaves
    ``out_dir`` as it was. The files under ``source_dir/images`` (if that folder exists) are copied
    to ``out_dir/images`` in the same all-or-nothing step, so the markdown's ``images/<name>.png``
    links resolve in the student notebooks too.

    Args:
        source_dir: folder of solution notebooks.
        out_dir: folder for the student notebooks (created; older student versions are replaced).

    Returns:
        The student notebooks written (the copied images are not listed).

    Raises:
        UsageError: ``source_dir`` is not a folder or holds no notebook, or a destination is not a
            student notebook this generator made (``out_dir`` is the source folder, a link to a
            source, any other notebook), or ``out_dir/images`` is a link or a file.
        NotebookFormatError: a notebook is unreadable or its markers are broken (the message
            names the file, the cell and the line).
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not source_dir.is_dir():
        raise UsageError(f"{source_dir} is not a folder of notebooks")
    paths = sorted(path for path in source_dir.glob("*.ipynb") if path.is_file())
    if not paths:
        raise UsageError(f"{source_dir} holds no *.ipynb notebook")
    converted = []
    for path in paths:
        notebook = read_notebook(path)
        if is_student_notebook(notebook):
            raise UsageError(f"{path} is a student notebook, not a solution notebook")
        try:
            converted.append((path, notebook, make_student_notebook(notebook, notebook_id=path.stem)))
        except NotebookFormatError as error:
            raise NotebookFormatError(f"{path.name}: {error}") from None
    _check_targets(paths, out_dir)
    images = _image_files(source_dir, out_dir)
    created = not out_dir.exists()
    images_created = not (out_dir / IMAGES_DIR).exists()
    written = []
    try:
        with contextlib.ExitStack() as stack:
            for path, _, student in converted:
                target = out_dir / path.name
                temporary = stack.enter_context(files.atomic_path(target))
                with open(temporary, "w", encoding="utf-8") as handle:
                    nbformat.write(student, handle)
                written.append(target)
            for path, destination in images:
                stack.enter_context(files.atomic_path(destination)).write_bytes(path.read_bytes())
    except BaseException:
        folders = ([out_dir / IMAGES_DIR] if images_created else []) + ([out_dir] if created else [])
        for folder in folders:  # only folders this call made, and only when empty (rmdir)
            for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True) if folder.is_dir() else []:
                with contextlib.suppress(OSError):
                    sub.rmdir()
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    for (path, notebook, _), target in zip(converted, written):
        exercises, regions = len(find_exercises(notebook)), count_exercises(notebook)
        print(
            f"{path.name}: {exercises} exercise{'' if exercises == 1 else 's'} "
            f"({regions} solution region{'' if regions == 1 else 's'}) -> {target}"
        )
    if images:
        print(f"{IMAGES_DIR}/: {len(images)} file{'' if len(images) == 1 else 's'} -> {out_dir / IMAGES_DIR}")
    return written


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m utils.course.student [SOURCE] [--out FOLDER]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.course.student", description="Generate student notebooks (solutions replaced by stubs)."
    )
    parser.add_argument("source", nargs="?", default="notebooks", help="folder of solution notebooks")
    parser.add_argument("--out", default="notebooks/student", help="folder for the student notebooks")
    args = parser.parse_args(argv)
    try:
        generate(Path(args.source), Path(args.out))
    except (CourseError, OSError) as error:
        return report(error)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
