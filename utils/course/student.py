"""Generate student notebooks from the solution notebooks.

Instructors maintain one copy of each notebook, with solutions. This module derives the version a
learner opens:

* every solution region — the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` inside a
  code cell — becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError(...)`` at the same
  indentation, naming the exercise (the function the region sits in);
* every hidden-check region — ``### BEGIN HIDDEN CHECKS`` to ``### END HIDDEN CHECKS`` — is removed;
* outputs and execution counts are stripped.

Each student notebook is written atomically (:func:`utils.files.atomic_write`), so an interrupted
run never leaves half a notebook behind. A notebook whose markers are unbalanced or nested, or
that cannot be read, stops the run with :class:`utils.errors.NotebookFormatError` naming the file,
the cell and the line; the command line prints it as one line and exits with status 2.

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
import copy
import re
from pathlib import Path

import nbformat

from utils import files
from utils.errors import CourseError, NotebookFormatError, UsageError, report

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN CHECKS"
END_HIDDEN = "### END HIDDEN CHECKS"

_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(")


def _enclosing_function(lines: list[str], index: int, indent: int) -> str | None:
    """Name of the innermost ``def`` above line ``index`` that is less indented than the region."""
    for line in reversed(lines[:index]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < indent:
            return match.group(2)
    return None


def stub_source(source: str, where: str = "cell") -> str:
    """Replace solution regions with stubs and drop hidden-check regions in one cell's source.

    Args:
        source: the code cell's source.
        where: a description of the cell for error messages.

    Returns:
        The student version of the source.

    Raises:
        NotebookFormatError: markers are unbalanced or nested.

    Example:
        >>> stub_source("check(f)\\n### BEGIN HIDDEN CHECKS\\nassert f(1) == 2\\n### END HIDDEN CHECKS")
        'check(f)'
    """
    lines = source.split("\n")
    output: list[str] = []
    state = None          # None, "solution" or "hidden"
    start = 0
    for index, line in enumerate(lines):
        marker = line.strip()
        if marker in (BEGIN_SOLUTION, BEGIN_HIDDEN):
            if state is not None:
                raise NotebookFormatError(f"{where}: line {index + 1}: {marker!r} inside an open region")
            state = "solution" if marker == BEGIN_SOLUTION else "hidden"
            start = index
            if state == "solution":
                indent = len(line) - len(line.lstrip())
                name = _enclosing_function(lines, index, indent)
                label = f"Exercise `{name}`" if name else "Exercise"
                pad = line[:indent]
                output.append(f"{pad}# YOUR CODE HERE")
                output.append(f'{pad}raise NotImplementedError("{label}: replace this line with your code.")')
            continue
        if marker in (END_SOLUTION, END_HIDDEN):
            expected = "solution" if marker == END_SOLUTION else "hidden"
            if state != expected:
                raise NotebookFormatError(f"{where}: line {index + 1}: {marker!r} without its BEGIN marker")
            state = None
            continue
        if state is None:
            output.append(line)
    if state is not None:
        raise NotebookFormatError(f"{where}: region opened at line {start + 1} is never closed")
    return "\n".join(output)


def _check_parses(source: str, where: str) -> None:
    """Raise NotebookFormatError (naming the cell) if the stubbed source is not valid Python."""
    body = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    try:
        ast.parse(body)
    except SyntaxError as error:
        raise NotebookFormatError(f"{where}: the student version does not parse: {error}") from None


def make_student_notebook(notebook):
    """Return a student copy of an ``nbformat`` notebook (the input is not modified).

    Raises:
        NotebookFormatError: a cell's markers are unbalanced or nested, or its student version is
            not valid Python.
    """
    student = copy.deepcopy(notebook)
    for number, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            where = f"cell {number}"
            cell.source = stub_source(cell.source, where)
            _check_parses(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    student.metadata.setdefault("course", {})["student_version"] = True
    return student


def count_exercises(notebook) -> int:
    """Number of solution regions in a notebook."""
    return sum(cell.source.count(BEGIN_SOLUTION) for cell in notebook.cells if cell.cell_type == "code")


def _read_notebook(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except (ValueError, nbformat.ValidationError) as error:
        raise NotebookFormatError(f"{path}: not a readable notebook ({error})") from None


def generate(source_dir: Path, out_dir: Path) -> list[Path]:
    """Write a student version of every ``*.ipynb`` in ``source_dir`` into ``out_dir``.

    Every notebook is converted before the first is written, so a notebook with broken markers
    leaves ``out_dir`` as it was.

    Args:
        source_dir: folder of solution notebooks.
        out_dir: folder for the student notebooks (created; files of the same name are replaced).

    Returns:
        The paths written.

    Raises:
        UsageError: ``source_dir`` is not a folder or holds no notebook.
        NotebookFormatError: a notebook is unreadable or its markers are broken (the message
            names the file, the cell and the line).
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not source_dir.is_dir():
        raise UsageError(f"{source_dir} is not a folder of notebooks")
    paths = sorted(source_dir.glob("*.ipynb"))
    if not paths:
        raise UsageError(f"{source_dir} holds no *.ipynb notebook")
    converted = []
    for path in paths:
        notebook = _read_notebook(path)
        try:
            converted.append((path, notebook, make_student_notebook(notebook)))
        except NotebookFormatError as error:
            raise NotebookFormatError(f"{path.name}: {error}") from None
    written = []
    for path, notebook, student in converted:
        target = out_dir / path.name
        with files.atomic_write(target, "w") as handle:
            nbformat.write(student, handle)
        written.append(target)
        exercises = count_exercises(notebook)
        print(f"{path.name}: {exercises} exercise{'' if exercises == 1 else 's'} -> {target}")
    return written


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m utils.course.student [SOURCE] [--out FOLDER]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m utils.course.student",
                                     description="Generate student notebooks (solutions replaced by stubs).")
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
