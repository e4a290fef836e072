"""The notebook the grader runs for a submission, and what it reads in the learner's own code.

:func:`plan_cells` keeps the learner's cells, in the learner's order, and replaces every check
cell by the solution notebook's version, in which each ``checks.check_<exercise>(arguments)``
statement becomes a call of ``utils.checks.observe("<exercise>", arguments, seed=<secret>)``
that publishes the observation (JSON) to the grader, tagged with a random token. The kernel
never decides a verdict: the grader judges the observation in its own process
(:mod:`utils.course.grading.judging`). Hidden-check regions of the solution's check cell run as
written: they can only take points away from an exercise the observation passed.

:func:`answer_key_uses` reads the source of the cells a learner wrote or changed (never runs it)
and reports every reference to one of the course library's reference implementations of an
exercise (the checks' ``answer_key``).

Example:
    >>> import nbformat
    >>> from utils.course import student
    >>> from utils.course.grading.assignment import Assignment
    >>> solution = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_code_cell("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION"),
    ...     nbformat.v4.new_code_cell("checks.check_f(f)")])
    >>> assignment = Assignment.from_notebook(solution, "01_f", "01_f.ipynb")
    >>> learner = student.make_student_notebook(solution, "01_f")
    >>> learner.cells[1].source = "print('I changed the check')"
    >>> plan = plan_cells(learner, assignment, seed=7, token=lambda: "T")
    >>> [(cell.kind, cell.exercise) for cell in plan]
    [('learner', 'f'), ('check', 'f')]
    >>> print(plan[1].source)    # doctest: +ELLIPSIS
    __import__('IPython.display', ...({'application/vnd.course-grade.observation+json': {'token': 'T', 'exercise': 'f', 'observation': __import__('utils.checks', fromlist=['observe']).observe('f', f, seed=7).to_json()}})
"""

from __future__ import annotations

import ast
import dataclasses
import secrets
from typing import Callable

from utils.course.grading.assignment import Assignment, CheckCell, _without_magics, check_calls, submission_key

#: MIME type of the observation a check cell publishes from the kernel.
OBSERVATION_MIME = "application/vnd.course-grade.observation+json"


@dataclasses.dataclass
class PlannedCell:
    """One cell of the notebook the grader runs.

    Attributes:
        kind: ``"learner"`` (the submission's cell, as written) or ``"check"`` (the solution's check
            cell with observe calls).
        source: what runs.
        exercise: the exercise a check cell checks, or the one a learner cell defines.
        position: index in the submission (None for a check cell the grader put back).
        observations: for a check cell, ``(exercise, token)`` of each observation it must publish.
        changed: for a learner cell, True when it is not the released version (the learner wrote
            or edited it).
    """

    kind: str
    source: str
    exercise: str | None = None
    position: int | None = None
    observations: tuple = ()
    changed: bool = False


def observe_source(check: CheckCell, seed: int, token: Callable[[], str] = lambda: secrets.token_hex(16)
                   ) -> tuple[str, tuple]:
    """The solution's check cell with each ``checks.check_x(...)`` replaced by an observe-and-publish call.

    Returns:
        ``(source, observations)``: the source to run and ``(exercise, token)`` per call.

    Example:
        >>> cell = CheckCell("k", 1, "f", "checks.check_f(f, data,\\n               k=2);  # note", "", ("f",))
        >>> source, observations = observe_source(cell, 5, token=lambda: "T")
        >>> observations
        (('f', 'T'),)
        >>> "observe('f', f, data, k=2, seed=5).to_json()" in source and source.endswith(";  # note")
        True
    """
    calls = check_calls(check.source, f"check cell {check.index}")
    source = _without_magics(check.source)
    lines = check.source.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def at(lineno: int, column: int) -> int:          # ast columns count UTF-8 bytes
        line = lines[lineno - 1]
        return offsets[lineno - 1] + len(line.encode("utf-8")[:column].decode("utf-8", errors="ignore"))

    pieces, observations, cursor = [], [], 0
    for exercise, statement in calls:
        call = statement.value
        arguments = [ast.get_source_segment(source, argument) for argument in call.args]
        arguments += [(f"{keyword.arg}=" if keyword.arg else "**") + ast.get_source_segment(source, keyword.value)
                      for keyword in call.keywords]
        tag = token()
        observe = (f"__import__('utils.checks', fromlist=['observe']).observe("
                   f"{', '.join([repr(exercise)] + arguments + [f'seed={int(seed)}'])}).to_json()")
        replacement = (f"__import__('IPython.display', fromlist=['publish_display_data']).publish_display_data("
                       f"{{{OBSERVATION_MIME!r}: {{'token': {tag!r}, 'exercise': {exercise!r}, "
                       f"'observation': {observe}}}}})")
        start = at(statement.lineno, statement.col_offset)
        end = at(statement.end_lineno, statement.end_col_offset)
        pieces += [check.source[cursor:start], replacement.replace("\n", " ")]
        cursor = end
        observations.append((exercise, tag))
    pieces.append(check.source[cursor:])
    return "".join(pieces), tuple(observations)


def plan_cells(submission, assignment: Assignment, seed: int,
               token: Callable[[], str] = lambda: secrets.token_hex(16)) -> list[PlannedCell]:
    """The cells to run for ``submission``: the learner's, with the solution's check cells.

    A submission cell is the check cell whose key (``course.cell`` metadata, else the cell id) it
    carries, or whose source is that check's student version; each check runs once. A check cell
    missing from the submission is put back right after the last of the submission's cells that
    came before it in the solution notebook (at the end if there is none).

    Args:
        submission: the learner's notebook.
        assignment: its solution notebook.
        seed: the secret seed of the hidden cases, passed to every observe call.
        token: makes the random tag of each observation (tests pass a fixed one).
    """
    checks = {check.key: check for check in assignment.checks}
    by_student_source = {check.student_source.strip(): check.key for check in assignment.checks}
    planned: list[tuple[PlannedCell, int | None]] = []
    used: set[str] = set()

    def check_cell(check: CheckCell, position: int | None) -> PlannedCell:
        source, observations = observe_source(check, seed, token)
        return PlannedCell("check", source, check.exercise, position, observations)

    for position, cell in enumerate(submission.cells):
        if cell.get("cell_type") != "code" or not isinstance(cell.get("source"), str):
            continue
        key = submission_key(cell)
        if key not in assignment.order:
            key = by_student_source.get(cell.source.strip(), key)
        if key in checks and key not in used:
            used.add(key)
            planned.append((check_cell(checks[key], position), checks[key].index))
            continue
        changed = key not in assignment.released or cell.source.strip() != assignment.released[key].strip()
        planned.append((PlannedCell("learner", cell.source, assignment.exercise_cells.get(key), position,
                                    changed=changed), assignment.order.get(key)))   # None: a cell the learner added
    for check in assignment.checks:
        if check.key in used:
            continue
        before = [number for number, (_, order) in enumerate(planned) if order is not None and order < check.index]
        at = (before[-1] + 1) if before else len(planned)
        planned.insert(at, (check_cell(check, None), check.index))
    return [cell for cell, _ in planned]


# ----------------------------------------------------------------------------------------------
# Reading the learner's code for the answer key
# ----------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AnswerKeyUse:
    """A reference to a reference implementation in a cell the learner wrote.

    Attributes:
        exercise: the exercise whose answer key it is.
        name: the reference's qualified name, e.g. ``utils.losses.triplet_loss``.
        position: the cell's index in the submission.
        line: line number in that cell.
        code: that line (stripped).
    """

    exercise: str
    name: str
    position: int | None
    line: int
    code: str
    module_only: bool = False

    def message(self) -> str:
        """The learner-facing sentence."""
        what = (f"imports `{self.name.rpartition('.')[0]}`, the module of the course library's reference "
                f"`{self.name}`" if self.module_only else f"calls the course library's reference `{self.name}`")
        return (f"Exercise `{self.exercise}` {what} (line {self.line} of a cell you wrote: `{self.code[:160]}`); "
                f"the grade is for your own implementation.")


def _aliases(tree: ast.AST, aliases: dict[str, str]) -> None:
    """Record the names that imports in ``tree`` bind, as dotted module paths."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    aliases[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"


def _dotted(node, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id]] + parts[::-1])
    return None


def _matches(dotted: str, key: str) -> bool:
    """``dotted`` names ``key`` directly or through a package that re-exports it."""
    if dotted == key:
        return True
    package, _, name = dotted.rpartition(".")
    module, _, key_name = key.rpartition(".")
    return bool(package) and name == key_name and module.startswith(package + ".")


def answer_key_uses(plan: list[PlannedCell], answer_keys: dict[str, tuple]) -> list[AnswerKeyUse]:
    """Every reference to an answer key in the learner cells the learner wrote or changed.

    Imports anywhere in the learner's cells (unchanged ones included, e.g. the notebook's setup
    cell) tell what a name stands for; references are searched only in changed or added cells,
    so the course's own demonstration cells never count. Found: attribute chains and names that
    resolve to a reference (``arithmetic.conv_output_length``, ``from utils.losses import
    triplet_loss``), ``getattr(module, "name")``, and strings naming a reference or its module
    (``importlib.import_module("utils.losses")``). Code built at run time from pieces of strings
    is not found (see docs/GRADING.md, residual risks).

    Args:
        plan: the planned cells (:func:`plan_cells`).
        answer_keys: exercise -> qualified names of its references (``ExerciseCheck.answer_key``).

    Returns:
        One :class:`AnswerKeyUse` per exercise and reference (the first place it occurs).

    Example:
        >>> cells = [PlannedCell("learner", "from utils.convnets import arithmetic"),
        ...          PlannedCell("learner", "def size(n, f, p, s):\\n    return arithmetic.conv_output_length(n, f)",
        ...                      "size", 3, changed=True)]
        >>> uses = answer_key_uses(cells, {"size": ("utils.convnets.arithmetic.conv_output_length",)})
        >>> [(use.exercise, use.name, use.line) for use in uses]
        [('size', 'utils.convnets.arithmetic.conv_output_length', 2)]
    """
    keys = [(exercise, name) for exercise, names in answer_keys.items() for name in names]
    if not keys:
        return []
    modules = {name.rpartition(".")[0] for _, name in keys}
    trees = []
    aliases: dict[str, str] = {}
    for cell in plan:
        if cell.kind != "learner":
            continue
        try:
            tree = ast.parse(_without_magics(cell.source))
        except (SyntaxError, ValueError):
            continue
        _aliases(tree, aliases)
        if cell.changed:
            trees.append((cell, tree))
    found: dict[tuple[str, str], AnswerKeyUse] = {}
    for cell, tree in trees:
        lines = cell.source.split("\n")
        for node in ast.walk(tree):
            candidates = []
            if isinstance(node, (ast.Attribute, ast.Name)):
                candidates.append(_dotted(node, aliases))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                candidates += [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                candidates += [alias.name for alias in node.names]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                candidates.append(node.value.strip())
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                  and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                  and isinstance(node.args[1].value, str)):
                base = _dotted(node.args[0], aliases)
                if base:
                    candidates.append(f"{base}.{node.args[1].value}")
            for dotted in filter(None, candidates):
                for exercise, name in keys:
                    module = name.rpartition(".")[0]
                    direct = _matches(dotted, name)
                    module_only = (not direct and dotted in modules and dotted == module
                                   and not isinstance(node, (ast.Attribute, ast.Name)))
                    if (direct or module_only) and (exercise, name) not in found:
                        line = getattr(node, "lineno", 1)
                        code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
                        found[(exercise, name)] = AnswerKeyUse(exercise, name, cell.position, line, code, module_only)
    return list(found.values())
