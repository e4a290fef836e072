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

**Estimated time** (:func:`estimate_time`). Each notebook's table of contents states how long its
required path takes, in one line of a fixed form (:data:`TIME_LINE`), e.g.
"**Estimated time:** about 45 min (reading 12, code 6, exercises 21, controls 5, running 1)": the sum of

* *reading* — the required words at :data:`READING_WORDS_PER_MINUTE`;
* *code* — the required code a learner reads and runs (:func:`reading_code_lines`: the non-blank
  lines of the required code cells, comment lines included, exercise and check cells left out
  because the exercise part covers them) at :data:`CODE_LINES_PER_MINUTE`;
* *exercises* — per exercise :data:`EXERCISE_BASE_MINUTES`, plus :data:`EXERCISE_MINUTES_PER_LINE`
  per line of code its "(≈ N lines)" hints ask for (the upper end of a range);
* *controls* — per interactive control of the required path :data:`CONTROL_MINUTES`, per
  "predict before you run" prompt :data:`PROMPT_MINUTES` (:func:`try_it_marks`: each is marked in
  its code cell by a comment line ``# Try it (control): ...`` or ``# Try it (prediction): ...``;
  ``tests/test_notebook_text.py`` checks that every required cell that builds a control from a
  ``utils.*.widgets`` module carries its mark, and that no other cell does);
* *running* — the required path's run time in normal mode, :data:`RUN_SECONDS` (measured: the
  seconds its code cells take, optional sections' cells left out, :func:`required_run_seconds`).

The constants are assumptions about a learner who watched the lecture, stated where they are
defined; change one and every notebook's line must be rewritten (``--write-time`` does it).
The whole required path of the course is held to :data:`COURSE_MINUTES_LIMIT` (issue 28).

Usage::

    python -m utils.course.notebook_text                 # the table of every notebook in notebooks/
    python -m utils.course.notebook_text notebooks/04_neural_style_transfer.ipynb
    python -m utils.course.notebook_text --time          # estimated time per notebook, and the course's total
    python -m utils.course.notebook_text --write-time notebooks/01_face_verification_and_recognition.ipynb

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
import datetime
import math
import re
from pathlib import Path

from utils import config, files
from utils.course import student
from utils.errors import CourseError, UsageError, report

__all__ = [
    "OPTIONAL_MARK",
    "REQUIRED_WORDS_LIMIT",
    "BEYOND_MARK",
    "Heading",
    "NotebookText",
    "headings",
    "is_optional_heading",
    "is_beyond_heading",
    "count_words",
    "markdown_parts",
    "required_words",
    "optional_words",
    "code_lines",
    "images_shown",
    "summarize",
    "READING_WORDS_PER_MINUTE",
    "CODE_LINES_PER_MINUTE",
    "EXERCISE_BASE_MINUTES",
    "EXERCISE_MINUTES_PER_LINE",
    "CONTROL_MINUTES",
    "PROMPT_MINUTES",
    "TRY_IT_MARK",
    "RUN_SECONDS",
    "COURSE_MINUTES_LIMIT",
    "TIME_LINE",
    "TimeEstimate",
    "exercise_lines",
    "is_exercise_cell",
    "reading_code_lines",
    "try_it_marks",
    "required_run_seconds",
    "estimate_time",
    "time_line",
    "stated_time",
    "time_agrees",
    "write_time_line",
    "measured_run_seconds",
    "main",
]

#: The heading text that marks a section a learner may skip.
OPTIONAL_MARK = "Optional — beyond the lecture"

#: The most words a notebook's required path may have (issue 21).
REQUIRED_WORDS_LIMIT = 2500

#: The heading text of a *required* section that goes beyond the lecture (issue 28): a learner
#: needs it, and knows the lecture did not cover it. "Optional — beyond the lecture" is the other
#: label, for sections a learner may skip; a heading with both marks is optional.
BEYOND_MARK = "Beyond the lecture"

#: Reading speed of the required words, in words per minute. Silent reading of ordinary
#: non-fiction averages about 238 words a minute (Brysbaert 2019, a meta-analysis of 190 studies);
#: reading in order to learn is slower, about 200, and in order to remember about 140 (Carver
#: 1992's "learning" and "memorizing" rates). The course's prose is denser than either: an
#: inline formula counts as one word here, and most paragraphs send the reader to a printed
#: number, a figure or a code cell to compare with. We assume 130.
READING_WORDS_PER_MINUTE = 130

#: Reading speed of the required code, in non-blank lines per minute (comment lines count). Careful
#: reading is slower: code inspections, whose readers look for defects, run at up to 300-500 lines an
#: hour (Cohen 2006, SmartBear's study of 2,500 reviews at Cisco; Humphrey 1989, quoted in Code
#: Complete: about 500 lines an hour of preparation), i.e. 5-8 lines a minute. A learner reads the
#: course's code differently: the prose above a cell has said what it does, the cell is run, and the
#: reader skims it for the calls it makes before reading what it prints. A line of the course's
#: required code holds 8 to 8.5 names and numbers (7.95 in the six notebooks before issue 28's cuts,
#: 8.5 after; counted 7 Dec 2026), so reading those at the prose rate above gives 15 to 16 lines a
#: minute. We assume 15: about twice the inspection rate, and the prose rate per name. (Check: with
#: these constants, and their whole run times, the notebooks as they stood before issue 28's cuts
#: come to 326 minutes, 5.4 hours; a reviewer had measured "about 5.5".)
CODE_LINES_PER_MINUTE = 15

#: Minutes of every exercise, whatever its size: reading its docstring and step comments,
#: running its check, reading the check's message and fixing one mistake. An assumption.
EXERCISE_BASE_MINUTES = 5

#: Minutes per line of code an exercise's "(≈ N lines)" hints ask for (the upper end of a range):
#: writing the line after the lecture taught its formula, looking up one call (``tf.where``,
#: ``keras.ops``) now and then. An assumption; the course's exercises ask for 1 to 13 lines.
EXERCISE_MINUTES_PER_LINE = 1

#: Minutes per interactive control of the required path (a slider, dropdown or upload with its
#: figure): the prose beside it has said what it shows; using it means trying four to six settings
#: (or one photo of one's own) and reading what changes, about half a minute each. An assumption; the
#: controls that take the learner's own photo take longer, the one-slider explorers less.
CONTROL_MINUTES = 3

#: Minutes per "predict before you run" prompt: working out one to two layers' output shapes and
#: parameter counts by hand with the two formulas just written, typing them, and reading the
#: check's verdict beside Keras' numbers. An assumption.
PROMPT_MINUTES = 2

#: The comment line that marks an interactive control (``# Try it (control): what to try``) or a
#: prediction prompt (``# Try it (prediction): which model``) in its code cell, one line per control
#: or prompt (a cell that shows three prompts has three lines).
TRY_IT_MARK = re.compile(r"^\s*#\s*Try it\s*\((control|prediction)\)\s*:", re.IGNORECASE | re.MULTILINE)

#: Each notebook's required path's run time in normal mode, in seconds: the time its required code
#: cells take (:func:`required_run_seconds`), the optional sections' cells left out, because the
#: estimate is that of the required path: a learner who skips an optional section neither reads nor
#: runs it, and no required cell needs an optional one (a run without them shows it). Measured one
#: notebook at a time (``COURSE_FAST`` unset, the aligned-chip cache warm, ``outputs/`` empty, so
#: notebook 04's explorer builds its cache) on the course's reference machine, a 2-core Intel Xeon
#: shared with other work (docs/NOTEBOOKS.md states the date, the conditions and the whole
#: notebooks' run times). Update an entry when a notebook's run time changes (``--measured FOLDER``
#: reads the course site's normal-mode execution).
RUN_SECONDS = {  # measured 7 Dec 2026 (whole notebooks: docs/NOTEBOOKS.md)
    "01_face_verification_and_recognition": 28,
    "02_triplet_loss_training": 77,
    "03_verification_as_binary_classification": 23,
    "04_neural_style_transfer": 79,  # the knob explorer's cache built from an empty outputs/
    "05_what_convnets_learn": 58,  # the unit explorer's precompute included
    "06_conv1d_conv3d_keras_workflow": 41,
}

#: The most minutes the whole course's required path may take, all notebooks together (issue 28).
COURSE_MINUTES_LIMIT = 240

#: The line a notebook's table of contents states its estimate in (``{total}`` is rounded to 5 minutes,
#: the parts to whole minutes).
TIME_LINE = (
    "**Estimated time:** about {total} min (reading {reading}, code {code}, exercises {exercises}, "
    "controls {controls}, running {running})."
)

_TIME_PARTS = ("total", "reading", "code", "exercises", "controls", "running")
_TIME = re.compile(
    r"Estimated time:(?:\*\*)?\s+about\s+(\d+)\s+min\s+\(reading\s+(\d+),\s+code\s+(\d+),"
    r"\s+exercises\s+(\d+),\s+controls\s+(\d+),\s+running\s+(\d+)\)"
)
_ANY_TIME = re.compile(r"Estimated time:")
_LINE_HINT = re.compile(r"\(\s*≈\s*(\d+)(?:\s*[-–]\s*(\d+))?\s+lines?\s*\)")
_CONTENTS = re.compile(r"(?im)^(#{1,6}\s+|\*\*)(table of )?contents\b")
_BEYOND = re.compile(r"beyond the lecture", re.IGNORECASE)

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


def is_beyond_heading(title: str) -> bool:
    """Whether a heading marks a required section that goes beyond the lecture ("Beyond the lecture").

    Example:
        >>> is_beyond_heading("2. Beyond the lecture: PK batches")
        True
        >>> is_beyond_heading("6. Optional — beyond the lecture: fine-tuning"), is_beyond_heading("Setup")
        (False, False)
    """
    return bool(_BEYOND.search(title)) and not is_optional_heading(title)


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
                    optional_level = None  # the next heading of the same or a higher level ends it
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
            counts["optional" if optional else "required"] += sum(1 for text in cell.source.split("\n") if text.strip())
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
    return NotebookText(
        path.stem,
        count_words(parts["required"]),
        count_words(parts["optional"]),
        lines["required"],
        lines["optional"],
        tuple(images_shown(notebook)),
    )


@dataclasses.dataclass(frozen=True)
class TimeEstimate:
    """How long a learner spends on one notebook's required path (see :func:`estimate_time`).

    Attributes:
        name: the notebook's file stem.
        required_words: words of the required path.
        code_lines: lines of required code read (:func:`reading_code_lines`).
        exercises: number of exercises.
        exercise_lines: lines of code their "(≈ N lines)" hints ask for, all together.
        controls: interactive controls of the required path.
        prompts: "predict before you run" prompts of the required path.
        reading_minutes, code_minutes, exercise_minutes, control_minutes, running_minutes: the five
            parts, unrounded.
    """

    name: str
    required_words: int
    code_lines: int
    exercises: int
    exercise_lines: int
    controls: int
    prompts: int
    reading_minutes: float
    code_minutes: float
    exercise_minutes: float
    control_minutes: float
    running_minutes: float

    def parts(self) -> dict[str, float]:
        """``{"reading", "code", "exercises", "controls", "running"}``, unrounded minutes."""
        return {
            "reading": self.reading_minutes,
            "code": self.code_minutes,
            "exercises": self.exercise_minutes,
            "controls": self.control_minutes,
            "running": self.running_minutes,
        }

    @property
    def minutes(self) -> float:
        """The total, unrounded."""
        return sum(self.parts().values())

    def rounded(self) -> dict[str, int]:
        """``{"total", "reading", "code", "exercises", "controls", "running"}`` as the notebook states
        them: the total to the nearest 5 minutes (at least 5), the parts to the nearest minute
        (running at least 1)."""
        rounded = {"total": max(5, 5 * _half_up(self.minutes / 5))}
        rounded.update({key: _half_up(value) for key, value in self.parts().items()})
        rounded["running"] = max(1, rounded["running"])
        return rounded


def _half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def exercise_lines(notebook) -> list[int]:
    """Lines of code each solution region's "(≈ N lines)" hint asks for, in notebook order.

    The hint sits on one of the two lines above ``### BEGIN SOLUTION`` (docs/CONVENTIONS.md); a range
    "(≈ 2-3 lines)" counts its upper end; a region without a hint counts 1.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("def f(x):\\n    # add one (≈ 2-3 lines)\\n    ### BEGIN SOLUTION\\n"
        ...                                  "    y = x + 1\\n    ### END SOLUTION\\n    return y")
        >>> exercise_lines(nbformat.v4.new_notebook(cells=[cell]))
        [3]
    """
    counts = []
    for cell in _notebook(notebook).cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.split("\n")
        for index, line in enumerate(lines):
            if line.strip().startswith(student.BEGIN_SOLUTION):
                hints = [match for text in lines[max(0, index - 2) : index] for match in _LINE_HINT.finditer(text)]
                counts.append(int(hints[-1].group(2) or hints[-1].group(1)) if hints else 1)
    return counts


def is_exercise_cell(source: str) -> bool:
    """Whether a code cell belongs to an exercise: it holds a solution region, or it only calls checks.

    A check cell's statements are all ``checks.check_<name>(...)`` calls (comments such as
    ``# NBVAL_CHECK_OUTPUT`` and a trailing ``;`` allowed). The exercise part of the estimate covers
    both: reading the docstring and step comments, writing the lines, running the check.

    Example:
        >>> is_exercise_cell("# NBVAL_CHECK_OUTPUT\\nchecks.check_gram_matrix(gram_matrix);")
        True
        >>> is_exercise_cell("checks.check_verify(verify, database, model)\\nprint('done')")
        False
    """
    if student.BEGIN_SOLUTION in source:
        return True
    statements = [line.strip() for line in source.split("\n") if line.strip() and not line.strip().startswith("#")]
    if not statements:
        return False
    # one call may run over several lines: every line must belong to a checks.check_ call
    text = " ".join(statements)
    return bool(re.fullmatch(r"(checks\.check_\w+\((?:[^()]|\([^()]*\))*\)\s*;?\s*)+", text))


def reading_code_lines(notebook) -> int:
    """Non-blank lines of the required path's code cells that a learner reads, exercise cells left out.

    Comment lines count (they are read); blank lines do not. Exercise and check cells
    (:func:`is_exercise_cell`) are left out: the exercise part of the estimate covers them.

    Example:
        >>> import nbformat
        >>> notebook = nbformat.v4.new_notebook(cells=[
        ...     nbformat.v4.new_code_cell("# load\\nx = 1\\n\\ny = 2"),
        ...     nbformat.v4.new_code_cell("checks.check_f(f)"),
        ...     nbformat.v4.new_markdown_cell("## Optional — beyond the lecture: more"),
        ...     nbformat.v4.new_code_cell("z = 3")])
        >>> reading_code_lines(notebook)
        3
    """
    lines = 0
    for cell, line, optional in _walk(notebook):
        if line is None and not optional and not is_exercise_cell(cell.source):
            lines += sum(1 for text in cell.source.split("\n") if text.strip())
    return lines


def try_it_marks(notebook) -> dict[str, int]:
    """The interactive controls and prediction prompts of the required path (:data:`TRY_IT_MARK` lines).

    Returns:
        ``{"control": n, "prediction": m}``.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("# Try it (control): move tau\\nexplorer.show()")
        >>> try_it_marks(nbformat.v4.new_notebook(cells=[cell]))
        {'control': 1, 'prediction': 0}
    """
    marks = {"control": 0, "prediction": 0}
    for cell, line, optional in _walk(notebook):
        if line is None and not optional:
            for match in TRY_IT_MARK.finditer(cell.source):
                marks[match.group(1).lower()] += 1
    return marks


def estimate_time(source, run_seconds: float | None = None) -> TimeEstimate:
    """The estimated time of a notebook's required path: reading + code + exercises + controls + running.

    Args:
        source: an ``nbformat`` notebook or the path of one.
        run_seconds: its run time in normal mode; default :data:`RUN_SECONDS` for a course notebook
            (the file stem), else 0.

    Returns:
        A :class:`TimeEstimate`.

    Example:
        >>> import nbformat
        >>> notebook = nbformat.v4.new_notebook(cells=[
        ...     nbformat.v4.new_markdown_cell(" ".join(["word"] * 260)),
        ...     nbformat.v4.new_code_cell("def f(x):\\n    # (≈ 3 lines)\\n    ### BEGIN SOLUTION\\n    return x\\n"
        ...                               "    ### END SOLUTION"),
        ...     nbformat.v4.new_code_cell("\\n".join(["x = 1"] * 30) + "\\n# Try it (control): move x\\nshow(x)")])
        >>> estimate = estimate_time(notebook, run_seconds=90)
        >>> estimate.reading_minutes, estimate.code_minutes, estimate.exercise_minutes
        (2.0, 2.1333333333333333, 8.0)
        >>> estimate.control_minutes, estimate.running_minutes
        (3.0, 1.5)
        >>> estimate.rounded()
        {'total': 15, 'reading': 2, 'code': 2, 'exercises': 8, 'controls': 3, 'running': 2}
    """
    name = Path(source).stem if isinstance(source, (str, Path)) else str(source.metadata.get("name", "notebook"))
    notebook = _notebook(source)
    if run_seconds is None:
        run_seconds = RUN_SECONDS.get(name, 0.0)
    words = required_words(notebook)
    code = reading_code_lines(notebook)
    exercises = len(student.find_exercises(notebook))
    lines = sum(exercise_lines(notebook))
    marks = try_it_marks(notebook)
    return TimeEstimate(
        name,
        words,
        code,
        exercises,
        lines,
        marks["control"],
        marks["prediction"],
        words / READING_WORDS_PER_MINUTE,
        code / CODE_LINES_PER_MINUTE,
        float(exercises * EXERCISE_BASE_MINUTES + lines * EXERCISE_MINUTES_PER_LINE),
        float(marks["control"] * CONTROL_MINUTES + marks["prediction"] * PROMPT_MINUTES),
        run_seconds / 60.0,
    )


def time_line(estimate: TimeEstimate) -> str:
    """The one line a notebook's table of contents states its estimate in (:data:`TIME_LINE`).

    Example:
        >>> time_line(TimeEstimate("06", 1300, 60, 2, 2, 0, 3, 10.0, 4.0, 12.0, 6.0, 0.7))
        '**Estimated time:** about 35 min (reading 10, code 4, exercises 12, controls 6, running 1).'
    """
    return TIME_LINE.format(**estimate.rounded())


def _contents_cell(notebook) -> int | None:
    """Index of the markdown cell holding the table of contents (one of the first three)."""
    markdown = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"][:3]
    return next((index for index in markdown if _CONTENTS.search(notebook.cells[index].source)), None)


def stated_time(source) -> dict[str, int] | None:
    """What the notebook's table of contents states: ``{"total", "reading", "code", "exercises", "controls",
    "running"}``.

    Returns:
        None when the table of contents has no "Estimated time" line (or there is no table of contents).
    """
    notebook = _notebook(source)
    index = _contents_cell(notebook)
    match = _TIME.search(notebook.cells[index].source) if index is not None else None
    if match is None:
        return None
    return dict(zip(_TIME_PARTS, map(int, match.groups())))


def _with_time_line(text: str, line: str) -> str:
    """The table-of-contents cell ``text`` with ``line`` in place of its time line, or added after the contents."""
    lines = text.split("\n")
    for index, existing in enumerate(lines):
        if _ANY_TIME.search(existing):  # the current line, or one in an earlier form
            lines[index] = line
            return "\n".join(lines)
    start = next(index for index, existing in enumerate(lines) if _CONTENTS.search(existing))
    end = start + 1
    if re.match(r"^\s*(#{1,6}\s+|\*\*(table of )?contents\*?\*?\s*$)", lines[start], re.IGNORECASE):
        # a heading or a bold label on its own line, then a list: the block ends after the list
        while end < len(lines) and not lines[end].strip():
            end += 1
        while end < len(lines) and (
            re.match(r"^\s*([-*]|\d+\.)\s+", lines[end]) or (lines[end].startswith("   ") and lines[end].strip())
        ):
            end += 1
    else:  # "**Contents.** A · B · C" as one paragraph: it ends at the next blank line
        while end < len(lines) and lines[end].strip():
            end += 1
    return "\n".join(lines[:end] + ["", line] + lines[end:]).replace("\n\n\n", "\n\n")


def write_time_line(path, run_seconds: float | None = None) -> str:
    """Write (or rewrite) the "Estimated time" line of the notebook at ``path``; returns the line.

    The line goes under the table of contents. The notebook is read, its table-of-contents cell
    changed and written back at once (the file's own format: nbformat, one-space indent).

    Raises:
        UsageError: the notebook has no table of contents in its first three markdown cells.
    """
    import nbformat  # deferred: only writing needs it

    path = Path(path)
    notebook = _notebook(path)
    index = _contents_cell(notebook)
    if index is None:
        raise UsageError(
            f"{path.name}: no table of contents ('**Contents**' or a 'Contents' heading) in its "
            f"first three markdown cells to put the estimated time under"
        )
    # twice: the line's own words are read too (their number does not depend on the digits)
    for _ in range(2):
        line = time_line(
            estimate_time(notebook, run_seconds if run_seconds is not None else RUN_SECONDS.get(path.stem, 0.0))
        )
        notebook.cells[index].source = _with_time_line(notebook.cells[index].source, line)
    files.write_text(path, nbformat.writes(notebook) + "\n")
    return line


def _cell_seconds(cell) -> float | None:
    """Seconds a code cell took, from the timing nbclient records (``metadata.execution``), or None."""
    timing = cell.get("metadata", {}).get("execution", {})
    try:
        started, ended = (
            datetime.datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
            for key in ("iopub.status.busy", "shell.execute_reply")
        )
    except (KeyError, ValueError, AttributeError):
        return None
    return max(0.0, (ended - started).total_seconds())


def required_run_seconds(notebook) -> float | None:
    """Seconds the required path's code cells of an executed notebook took (optional sections' cells left out).

    Args:
        notebook: an executed ``nbformat`` notebook (or its path) whose code cells carry nbclient's
            timing (``metadata.execution``: ``iopub.status.busy`` and ``shell.execute_reply``).

    Returns:
        The sum over the required code cells, or None when one of them carries no timing (or there is none).

    Example:
        >>> import nbformat
        >>> def timed(source, start, end):
        ...     cell = nbformat.v4.new_code_cell(source)
        ...     cell.metadata["execution"] = {"iopub.status.busy": f"2026-12-07T10:00:{start:02d}Z",
        ...                                   "shell.execute_reply": f"2026-12-07T10:00:{end:02d}Z"}
        ...     return cell
        >>> notebook = nbformat.v4.new_notebook(cells=[timed("x = 1", 0, 5),
        ...     nbformat.v4.new_markdown_cell("## Optional — beyond the lecture: more"), timed("y = 2", 5, 35)])
        >>> required_run_seconds(notebook)
        5.0
    """
    timed = [
        _cell_seconds(cell)
        for cell, line, optional in _walk(notebook)
        if line is None and cell.cell_type == "code" and not optional
    ]
    return None if not timed or None in timed else float(sum(timed))


def measured_run_seconds(folder) -> dict[str, float]:
    """Required-path run times of executed notebooks in ``folder`` (the course site's normal-mode execution).

    For every ``NN_name.ipynb`` executed in normal mode (``metadata.course_site.mode``): the seconds
    of its required code cells (:func:`required_run_seconds`) where the cells carry their timing,
    else the whole run's ``metadata.course_site.seconds`` (an upper bound).

    Returns:
        ``{notebook stem: seconds}``.
    """
    found = {}
    for path in sorted(Path(folder).glob("[0-9]*.ipynb")):
        notebook = _notebook(path)
        run = notebook.metadata.get("course_site", {})
        if run.get("mode") == "normal" and "seconds" in run:
            required = required_run_seconds(notebook)
            found[path.stem] = float(run["seconds"]) if required is None else required
    return found


def _print_times(paths: list[Path], measured: dict[str, float]) -> None:
    estimates = [estimate_time(path, measured.get(path.stem)) for path in paths]
    header = (
        "notebook",
        "words",
        "code lines",
        "exercises",
        "lines",
        "controls",
        "prompts",
        "reading",
        "code",
        "exercises",
        "controls",
        "running",
        "total",
        "stated",
    )
    rows = []
    for path, estimate in zip(paths, estimates):
        stated = stated_time(path)
        rows.append(
            (
                estimate.name,
                f"{estimate.required_words:,}",
                str(estimate.code_lines),
                str(estimate.exercises),
                str(estimate.exercise_lines),
                str(estimate.controls),
                str(estimate.prompts),
                f"{estimate.reading_minutes:.1f}",
                f"{estimate.code_minutes:.1f}",
                f"{estimate.exercise_minutes:.0f}",
                f"{estimate.control_minutes:.0f}",
                f"{estimate.running_minutes:.1f}",
                f"{estimate.minutes:.1f}",
                "missing" if stated is None else ("ok" if time_agrees(stated, estimate) else "stale"),
            )
        )
    widths = [max(len(header[column]), *(len(row[column]) for row in rows)) for column in range(len(header))]
    print(
        "  ".join(
            text.ljust(widths[0]) if column == 0 else text.rjust(widths[column]) for column, text in enumerate(header)
        )
        + "   (minutes)"
    )
    for row in rows:
        print(
            "  ".join(
                text.ljust(widths[0]) if column == 0 else text.rjust(widths[column]) for column, text in enumerate(row)
            )
        )
    total = sum(estimate.minutes for estimate in estimates)
    print(
        f"whole course: {total:.0f} min ({total / 60:.1f} h) of at most {COURSE_MINUTES_LIMIT} min; reading at "
        f"{READING_WORDS_PER_MINUTE} words/min, code at {CODE_LINES_PER_MINUTE} lines/min, "
        f"{EXERCISE_BASE_MINUTES} min per exercise + {EXERCISE_MINUTES_PER_LINE} min per line of code, "
        f"{CONTROL_MINUTES} min per control, {PROMPT_MINUTES} min per prediction prompt"
    )
    for path, estimate in zip(paths, estimates):
        print(f"{path.name}: {time_line(estimate)}")


def time_agrees(stated: dict[str, int], estimate: TimeEstimate) -> bool:
    """Whether a stated time agrees with the estimate, by the rounding rule.

    The rule: the stated total is within 3 minutes of the estimate (the total is rounded to 5
    minutes, so up to 2.5 off, plus half a minute of slack so that one edited sentence does not
    force a new line), and each stated part within 1 minute of its own (rounded to the minute, plus
    the same slack).

    Args:
        stated: what the notebook states (:func:`stated_time`).
        estimate: what :func:`estimate_time` computes.

    Returns:
        True when they agree.

    Example:
        >>> estimate = TimeEstimate("06", 1300, 60, 2, 2, 0, 3, 10.0, 4.0, 12.0, 6.0, 0.7)
        >>> stated = {"total": 35, "reading": 10, "code": 4, "exercises": 12, "controls": 6, "running": 1}
        >>> time_agrees(stated, estimate)
        True
        >>> time_agrees({**stated, "total": 40}, estimate), time_agrees({**stated, "controls": 0}, estimate)
        (False, False)
    """
    return (
        abs(stated["total"] - estimate.minutes) <= 3.0
        and all(abs(stated[key] - value) <= 1.0 for key, value in estimate.parts().items())
        and (estimate.running_minutes >= 0.5 or stated["running"] <= 1)
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.course.notebook_text [NOTEBOOK ...]``: print the table; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.course.notebook_text",
        description=f"Words and code lines per notebook: required path vs '{OPTIONAL_MARK}' sections.",
    )
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: notebooks/[0-9]*.ipynb)")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print a markdown table (the README's, between its notebook-text markers)",
    )
    parser.add_argument(
        "--time",
        action="store_true",
        help="print each notebook's estimated time (reading + code + exercises + controls + "
        "running), the line "
        "its table of contents must state, and the whole course's total",
    )
    parser.add_argument(
        "--write-time",
        action="store_true",
        help="write (or rewrite) that line under each given notebook's table of contents",
    )
    parser.add_argument(
        "--measured",
        type=Path,
        metavar="FOLDER",
        help="with --time or --write-time: the required paths' run times from the notebooks "
        "executed in normal mode in FOLDER (e.g. outputs/site-executed/normal) instead of "
        "RUN_SECONDS",
    )
    args = parser.parse_args(argv)
    paths = [Path(name) for name in args.notebooks] or sorted((config.REPO_ROOT / "notebooks").glob("[0-9]*.ipynb"))
    try:
        if not paths:
            raise UsageError("no notebook given and none found in notebooks/")
        if args.write_time:
            if not args.notebooks:
                raise UsageError("--write-time changes notebooks: name them (e.g. notebooks/01_*.ipynb)")
            measured = measured_run_seconds(args.measured) if args.measured else {}
            for path in paths:
                print(f"{path.name}: {write_time_line(path, measured.get(path.stem))}")
            return 0
        if args.time:
            _print_times(paths, measured_run_seconds(args.measured) if args.measured else {})
            return 0
        rows = [summarize(path) for path in paths]
        minutes = [estimate_time(path).rounded()["total"] for path in paths]  # the README's time column
    except (CourseError, OSError) as error:
        return report(error)
    header = (
        "notebook",
        "required words",
        "optional words",
        "required code lines",
        "optional code lines",
        "diagrams",
        "estimated time",
    )
    table = [
        (
            row.name,
            f"{row.required_words:,}",
            f"{row.optional_words:,}",
            str(row.required_code_lines),
            str(row.optional_code_lines),
            str(len(row.images)),
            f"{total} min",
        )
        for row, total in zip(rows, minutes)
    ]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|---|" + "---:|" * (len(header) - 1))
        for name, *numbers in table:
            print(f"| `{name}` | " + " | ".join(numbers) + " |")
    else:
        widths = [max(len(header[column]), *(len(row[column]) for row in table)) for column in range(len(header))]
        print(
            "  ".join(
                text.ljust(widths[0]) if column == 0 else text.rjust(widths[column])
                for column, text in enumerate(header)
            )
        )
        for row in table:
            print(
                "  ".join(
                    text.ljust(widths[0]) if column == 0 else text.rjust(widths[column])
                    for column, text in enumerate(row)
                )
            )
    over = [row.name for row in rows if row.required_words > REQUIRED_WORDS_LIMIT]
    if over:
        print(f"over the {REQUIRED_WORDS_LIMIT:,}-word limit of the required path: {', '.join(over)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
