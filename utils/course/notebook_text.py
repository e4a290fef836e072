"""How much a learner reads in each notebook: the required path and the optional sections.

A notebook section whose heading contains "Optional — beyond the lecture" (docs/CONVENTIONS.md)
is material a learner may skip. The section runs from its heading to the next heading of the same
or a higher level (``##`` ends at the next ``#`` or ``##``; ``###`` also at the next ``###``), so an
optional ``###`` inside a required ``##`` ends where the next ``###`` or ``##`` starts. Everything
else is the **required path**; the course keeps it at most :data:`REQUIRED_WORDS_LIMIT` words per
notebook (issue 21).

Words are counted in markdown cells only, the way a reader meets them: display maths
(``$$...$$``) and images count nothing, an inline formula (``$...$``) counts as one word, a link
counts its text (not its address), HTML tags count nothing, and every other whitespace-separated
token holding a letter or a digit counts one. Code cells are counted separately, in non-blank
lines.

Usage::

    python -m utils.course.notebook_text                 # the table of every notebook in notebooks/
    python -m utils.course.notebook_text notebooks/04_neural_style_transfer.ipynb

Example:
    >>> import nbformat
    >>> notebook = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_markdown_cell("# Title\\nFour words of text."),
    ...     nbformat.v4.new_markdown_cell("## Optional — beyond the lecture: speed\\nSkip this part."),
    ...     nbformat.v4.new_code_cell("x = 1\\n\\ny = 2"),
    ...     nbformat.v4.new_markdown_cell("## What you learned\\nThe cost $J(G)$ matters.")])
    >>> required_words(notebook), optional_words(notebook)
    (12, 8)
    >>> code_lines(notebook)
    {'required': 0, 'optional': 2}
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

from utils import config
from utils.course import student
from utils.errors import CourseError, UsageError, report

__all__ = ["OPTIONAL_MARK", "REQUIRED_WORDS_LIMIT", "Heading", "NotebookText", "headings", "is_optional_heading",
           "count_words", "markdown_parts", "required_words", "optional_words", "code_lines", "images_shown",
           "summarize", "main"]

#: The heading text that marks a section a learner may skip.
OPTIONAL_MARK = "Optional — beyond the lecture"

#: The most words a notebook's required path may have (issue 21).
REQUIRED_WORDS_LIMIT = 2500

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
# the mark, tolerant of the dash a keyboard gives (— – -) and of case
_OPTIONAL = re.compile(r"optional\s*[—–-]+\s*beyond the lecture", re.IGNORECASE)
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)[^$\n]+?\$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_IMAGE_TARGET = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_IMAGE_TARGET = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Heading:
    """One markdown heading of a notebook.

    Attributes:
        cell: index of its markdown cell in ``notebook.cells``.
        line: its line number in that cell (0-based).
        level: 1 for ``#``, 2 for ``##``, ...
        title: the heading's text.
    """

    cell: int
    line: int
    level: int
    title: str


@dataclasses.dataclass(frozen=True)
class NotebookText:
    """The reading load of one notebook (see :func:`summarize`)."""

    name: str
    required_words: int
    optional_words: int
    required_code_lines: int
    optional_code_lines: int
    images: tuple[str, ...]


def _notebook(source):
    """A notebook node from a path, or the node itself."""
    if isinstance(source, (str, Path)):
        return student.read_notebook(source)
    if not hasattr(source, "cells"):
        raise UsageError(f"expected a notebook or the path of one; got {type(source).__name__}")
    return source


def _markdown_lines(cell) -> list[tuple[int, str, bool]]:
    """(line number, line, inside a code fence) for a markdown cell."""
    lines, fenced = [], False
    for number, line in enumerate(cell.source.split("\n")):
        if _FENCE.match(line):
            lines.append((number, line, True))
            fenced = not fenced
            continue
        lines.append((number, line, fenced))
    return lines


def headings(notebook) -> list[Heading]:
    """Every markdown heading (outside code fences), in notebook order.

    Example:
        >>> import nbformat
        >>> notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A\\ntext\\n## B")])
        >>> [(h.level, h.title) for h in headings(notebook)]
        [(1, 'A'), (2, 'B')]
    """
    found = []
    for index, cell in enumerate(_notebook(notebook).cells):
        if cell.cell_type != "markdown":
            continue
        for number, line, fenced in _markdown_lines(cell):
            match = None if fenced else _HEADING.match(line)
            if match:
                found.append(Heading(index, number, len(match.group(1)), match.group(2)))
    return found


def is_optional_heading(title: str) -> bool:
    """Whether a heading marks an optional section ("Optional — beyond the lecture", any dash, any case).

    Example:
        >>> is_optional_heading("8. Optional — beyond the lecture: making it fast"), is_optional_heading("Setup")
        (True, False)
    """
    return bool(_OPTIONAL.search(title))


def count_words(markdown: str) -> int:
    """Words a reader meets in a piece of markdown (the rules are in the module's docstring).

    Example:
        >>> count_words("The **Gram matrix** $G = A A^T$ of [layer l](#gram).\\n$$J = \\\\alpha J_c$$\\n![x](images/a.png)")
        7
    """
    text = _DISPLAY_MATH.sub(" ", markdown)
    text = _IMAGE.sub(" ", text)
    text = _HTML_IMAGE.sub(" ", text)
    text = _LINK.sub(r" \1 ", text)
    text = _INLINE_MATH.sub(" formula ", text)
    text = _TAG.sub(" ", text)
    return sum(1 for token in text.split() if any(character.isalnum() for character in token))


def _walk(notebook):
    """Yield ``(cell, markdown line or None, optional)`` through the notebook, in order.

    A code cell is yielded once (line None), in the part that the markdown above it left open.
    """
    optional_level = None
    for cell in _notebook(notebook).cells:
        if cell.cell_type != "markdown":
            yield cell, None, optional_level is not None
            continue
        for _, line, fenced in _markdown_lines(cell):
            match = None if fenced else _HEADING.match(line)
            if match:
                level = len(match.group(1))
                if optional_level is not None and level <= optional_level:
                    optional_level = None      # the next heading of the same or a higher level ends it
                if optional_level is None and is_optional_heading(match.group(2)):
                    optional_level = level
            yield cell, line, optional_level is not None


def markdown_parts(notebook) -> dict[str, str]:
    """The notebook's markdown split into ``{"required": text, "optional": text}``.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_markdown_cell("## A\\nread\\n### Optional — beyond the lecture\\nskip\\n### B\\nread")
        >>> markdown_parts(nbformat.v4.new_notebook(cells=[cell]))["optional"]
        '### Optional — beyond the lecture\\nskip'
    """
    parts = {"required": [], "optional": []}
    for _, line, optional in _walk(notebook):
        if line is not None:
            parts["optional" if optional else "required"].append(line)
    return {key: "\n".join(lines) for key, lines in parts.items()}


def required_words(notebook) -> int:
    """Words of the notebook's required path: markdown outside "Optional — beyond the lecture" sections.

    Args:
        notebook: an ``nbformat`` notebook or the path of one.

    Returns:
        The word count (see :func:`count_words`).
    """
    return count_words(markdown_parts(notebook)["required"])


def optional_words(notebook) -> int:
    """Words of the notebook's optional sections (see :func:`required_words`)."""
    return count_words(markdown_parts(notebook)["optional"])


def code_lines(notebook) -> dict[str, int]:
    """Non-blank code lines in the required path and in optional sections."""
    counts = {"required": 0, "optional": 0}
    for cell, line, optional in _walk(notebook):
        if line is None:
            counts["optional" if optional else "required"] += sum(1 for text in cell.source.split("\n")
                                                                  if text.strip())
    return counts


def images_shown(notebook) -> list[str]:
    """Every image the markdown shows (``![..](path)`` and ``<img src=...>``), in order, as written.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_markdown_cell('![Siamese](images/siamese_encoder.png) <img src="images/a.png">')
        >>> images_shown(nbformat.v4.new_notebook(cells=[cell]))
        ['images/siamese_encoder.png', 'images/a.png']
    """
    shown = []
    for cell in _notebook(notebook).cells:
        if cell.cell_type == "markdown":
            found = [(match.start(), match.group(1)) for match in _IMAGE_TARGET.finditer(cell.source)]
            found += [(match.start(), match.group(1)) for match in _HTML_IMAGE_TARGET.finditer(cell.source)]
            shown.extend(target for _, target in sorted(found))
    return shown


def summarize(path) -> NotebookText:
    """The reading load of the notebook at ``path``.

    Raises:
        NotebookFormatError: the file is not a readable notebook.
    """
    path = Path(path)
    notebook = _notebook(path)
    parts = markdown_parts(notebook)
    lines = code_lines(notebook)
    return NotebookText(path.stem, count_words(parts["required"]), count_words(parts["optional"]),
                        lines["required"], lines["optional"], tuple(images_shown(notebook)))


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.course.notebook_text [NOTEBOOK ...]``: print the table; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m utils.course.notebook_text",
                                     description="Words and code lines per notebook: required path vs "
                                                 f"'{OPTIONAL_MARK}' sections.")
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: notebooks/[0-9]*.ipynb)")
    parser.add_argument("--markdown", action="store_true",
                        help="print a markdown table (the README's, between its notebook-text markers)")
    args = parser.parse_args(argv)
    paths = [Path(name) for name in args.notebooks] or sorted((config.REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))
    try:
        if not paths:
            raise UsageError("no notebook given and none found in notebooks/")
        rows = [summarize(path) for path in paths]
    except (CourseError, OSError) as error:
        return report(error)
    header = ("notebook", "required words", "optional words", "required code lines", "optional code lines",
              "diagrams")
    table = [(row.name, f"{row.required_words:,}", f"{row.optional_words:,}", str(row.required_code_lines),
              str(row.optional_code_lines), str(len(row.images))) for row in rows]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|---|" + "---:|" * (len(header) - 1))
        for name, *numbers in table:
            print(f"| `{name}` | " + " | ".join(numbers) + " |")
    else:
        widths = [max(len(header[column]), *(len(row[column]) for row in table)) for column in range(len(header))]
        print("  ".join(text.ljust(widths[0]) if column == 0 else text.rjust(widths[column])
                        for column, text in enumerate(header)))
        for row in table:
            print("  ".join(text.ljust(widths[0]) if column == 0 else text.rjust(widths[column])
                            for column, text in enumerate(row)))
    over = [row.name for row in rows if row.required_words > REQUIRED_WORDS_LIMIT]
    if over:
        print(f"over the {REQUIRED_WORDS_LIMIT:,}-word limit of the required path: {', '.join(over)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
