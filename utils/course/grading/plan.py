"""The notebook the grader runs for a submission, and what it reads in the learner's own code.

:func:`plan_cells` keeps the learner's cells, in the learner's order, and replaces every check
cell by the solution notebook's version, in which each ``checks.check_<exercise>(arguments)``
statement becomes a call of ``utils.checks.observe("<exercise>", arguments, seed=<secret>)``
that publishes the observation (JSON) to the grader, tagged with a random token. The kernel
never decides a verdict: the grader judges the observation in its own process
(:mod:`utils.course.grading.judging`). A hidden-check region of the solution's check cell holds
only ``checks.check_<exercise>(...)`` calls: each becomes an observe call too (the seed gives its
hidden cases), and the region's text never reaches the kernel. The grader's own first cell
installs the answer key's spies before the learner's first cell.

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
    [('grader', None), ('learner', 'f'), ('check', 'f')]
    >>> print(plan[2].source)    # doctest: +ELLIPSIS
    __import__('IPython.display', ...({'application/vnd.course-grade.observation+json': {'token': 'T', 'exercise': 'f', 'observation': __import__('utils.checks', fromlist=['observe']).observe('f', f, seed=7).to_json()}})
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import secrets
from collections.abc import Callable

from utils import checks
from utils.course import student
from utils.course.grading.assignment import Assignment, CheckCell, _without_magics, check_calls, submission_key

#: MIME type of the observation a check cell publishes from the kernel.
OBSERVATION_MIME = "application/vnd.course-grade.observation+json"


@dataclasses.dataclass
class PlannedCell:
    """One cell of the notebook the grader runs.

    Attributes:
        kind: ``"grader"`` (the first cell: the answer key's spies), ``"learner"`` (the submission's
            cell, as written) or ``"check"`` (the solution's check cell with observe calls).
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


def _observe_call(exercise: str, call: ast.Call, source: str, seed: int, tag: str) -> str:
    """One line: observe ``call``'s arguments for ``exercise`` with ``seed`` and publish it under ``tag``."""
    arguments = [ast.get_source_segment(source, argument) for argument in call.args]
    arguments += [
        (f"{keyword.arg}=" if keyword.arg else "**") + ast.get_source_segment(source, keyword.value)
        for keyword in call.keywords
    ]
    observe = (
        f"__import__('utils.checks', fromlist=['observe']).observe("
        f"{', '.join([repr(exercise)] + arguments + [f'seed={int(seed)}'])}).to_json()"
    )
    return (
        f"__import__('IPython.display', fromlist=['publish_display_data']).publish_display_data("
        f"{{{OBSERVATION_MIME!r}: {{'token': {tag!r}, 'exercise': {exercise!r}, "
        f"'observation': {observe}}}}})"
    ).replace("\n", " ")


def observe_source(
    check: CheckCell, seed: int, token: Callable[[], str] = lambda: secrets.token_hex(16)
) -> tuple[str, tuple]:
    """The solution's check cell with each ``checks.check_x(...)`` replaced by an observe-and-publish call.

    A hidden-check region (markers included) is replaced by the observe-and-publish calls of its
    ``checks.check_x(...)`` calls, one per line: its text (comments, the calls as written) never
    reaches the kernel, and its observations look like the visible ones.

    Returns:
        ``(source, observations)``: the source to run and ``(exercise, token)`` per call, in source order.

    Example:
        >>> cell = CheckCell("k", 1, "f", "checks.check_f(f, data,\\n               k=2);  # note", "", ("f",))
        >>> source, observations = observe_source(cell, 5, token=lambda: "T")
        >>> observations
        (('f', 'T'),)
        >>> "observe('f', f, data, k=2, seed=5).to_json()" in source and source.endswith(";  # note")
        True
        >>> hidden = CheckCell("k", 1, "f", "### BEGIN HIDDEN CHECKS\\n# secret\\nchecks.check_f(g)\\n### END HIDDEN CHECKS",
        ...                    "", ("f",))
        >>> source, _ = observe_source(hidden, 5, token=lambda: "T")
        >>> "observe('f', g, seed=5)" in source, "secret" in source, "HIDDEN" in source
        (True, False, False)
    """
    where = f"check cell {check.index}"
    calls = check_calls(check.source, where)
    source = _without_magics(check.source)
    lines = check.source.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def at(lineno: int, column: int) -> int:  # ast columns count UTF-8 bytes
        line = lines[lineno - 1]
        return offsets[lineno - 1] + len(line.encode("utf-8")[:column].decode("utf-8", errors="ignore"))

    regions = student.hidden_check_calls(check.source, where)
    spans = []  # (start, end, [(exercise, call)]) in source order
    for begin, end, _ in regions:
        inside = [(exercise, statement.value) for exercise, statement in calls if begin < statement.lineno - 1 < end]
        spans.append((offsets[begin], offsets[end] + len(lines[end]), inside))
    for exercise, statement in calls:
        if not any(begin < statement.lineno - 1 < end for begin, end, _ in regions):
            spans.append(
                (
                    at(statement.lineno, statement.col_offset),
                    at(statement.end_lineno, statement.end_col_offset),
                    [(exercise, statement.value)],
                )
            )
    pieces, observations, cursor = [], [], 0
    for start, end, inside in sorted(spans, key=lambda span: span[0]):
        replacements = []
        for exercise, call in inside:
            tag = token()
            replacements.append(_observe_call(exercise, call, source, seed, tag))
            observations.append((exercise, tag))
        pieces += [check.source[cursor:start], "\n".join(replacements)]
        cursor = end
    pieces.append(check.source[cursor:])
    return "".join(pieces), tuple(observations)


def spies_source(exercises) -> str:
    """The grader's first cell: the answer key of ``exercises`` replaced by recording wrappers for good,
    before the learner's first cell runs (see :func:`utils.checks.install_spies`).

    Example:
        >>> spies_source(["conv_output_size"])
        "__import__('utils.checks', fromlist=['install_spies']).install_spies('conv_output_size')"
    """
    names = ", ".join(repr(name) for name in exercises)
    return f"__import__('utils.checks', fromlist=['install_spies']).install_spies({names})"


def plan_cells(
    submission, assignment: Assignment, seed: int, token: Callable[[], str] = lambda: secrets.token_hex(16)
) -> list[PlannedCell]:
    """The cells to run for ``submission``: the grader's first cell, then the learner's, with the
    solution's check cells.

    The first cell (kind ``"grader"``) installs the spies of the assignment's answer key before any
    learner code runs (:func:`spies_source`). A submission cell is the check cell whose key (``course.cell`` metadata, else the cell id) it
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
    planned: list[tuple[PlannedCell, int | None]] = [
        (PlannedCell("grader", spies_source(exercise.name for exercise in assignment.exercises)), None)
    ]
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
        planned.append(
            (
                PlannedCell("learner", cell.source, assignment.exercise_cells.get(key), position, changed=changed),
                assignment.order.get(key),
            )
        )  # None: a cell the learner added
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
        name: the reference's qualified name, e.g. ``utils.losses.triplet_loss`` (for the checks' own
            declarations: ``utils.checks.EXERCISES``).
        position: the cell's index in the submission.
        line: line number in that cell.
        code: that line (stripped).
        module_only: the cell imports the reference's module (by an import or a string naming it).
    """

    exercise: str
    name: str
    position: int | None
    line: int
    code: str
    module_only: bool = False

    def message(self) -> str:
        """The learner-facing sentence."""
        if self.name == CHECKS_ANSWER_KEY:
            what = "reads the checks' own declarations (`checks.EXERCISES`, a check's `.exercise` or `.reference`)"
        elif self.module_only:
            what = (
                f"imports `{self.name.rpartition('.')[0]}`, the module of the course library's reference `{self.name}`"
            )
        else:
            what = f"calls the course library's reference `{self.name}`"
        return (
            f"Exercise `{self.exercise}` {what} (line {self.line} of a cell you wrote: `{self.code[:160]}`); "
            f"the grade is for your own implementation."
        )


#: The name an :class:`AnswerKeyUse` gives the checks' own declarations (each holds its reference).
CHECKS_ANSWER_KEY = "utils.checks.EXERCISES"


def _aliases(tree: ast.AST, aliases: dict[str, str]) -> None:
    """Record the names that ``tree`` binds to a dotted path: imports, ``name = <chain>`` and parameter
    defaults ``def f(helper=<chain>)`` (what a learner uses to reach a reference in a roundabout way)."""
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
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            dotted = _dotted(node.value, aliases)
            if dotted:
                aliases[node.targets[0].id] = dotted
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            parameters = node.args.posonlyargs + node.args.args
            pairs = list(zip(parameters[len(parameters) - len(node.args.defaults) :], node.args.defaults))
            pairs += [
                (argument, default)
                for argument, default in zip(node.args.kwonlyargs, node.args.kw_defaults)
                if default is not None
            ]
            for argument, default in pairs:
                dotted = _dotted(default, aliases)
                if dotted:
                    aliases[argument.arg] = dotted


def _dotted(node, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id]] + parts[::-1])
    return None


def _root(node, aliases: dict[str, str]) -> str | None:
    """The dotted path of the name an expression starts from (through attributes, items and calls)."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return aliases.get(node.id) if isinstance(node, ast.Name) else None


def _matches(dotted: str, key: str) -> bool:
    """``dotted`` names ``key`` directly or through a package that re-exports it."""
    if dotted == key:
        return True
    package, _, name = dotted.rpartition(".")
    module, _, key_name = key.rpartition(".")
    return bool(package) and name == key_name and module.startswith(package + ".")


_NOT_FOUND = object()


class _Resolver:
    """Objects named by dotted paths under ``utils``, found by importing the module a path names and
    reading its attributes (in the grader's own process; the learner's code never runs here)."""

    def __init__(self):
        self.cache: dict[str, object] = {}

    def __call__(self, dotted: str):
        if dotted not in self.cache:
            self.cache[dotted] = self._resolve(dotted)
        return self.cache[dotted]

    @staticmethod
    def _resolve(dotted: str):
        parts = dotted.split(".")
        if parts[0] != "utils" or "__main__" in parts:  # a __main__ module runs a command when imported
            return _NOT_FOUND
        for split in range(len(parts), 0, -1):
            try:
                value = importlib.import_module(".".join(parts[:split]))
            except Exception:  # not a module (or one that cannot be imported): a shorter prefix then
                continue
            try:
                for part in parts[split:]:
                    value = getattr(value, part)
            except Exception:
                return _NOT_FOUND
            return value
        return _NOT_FOUND


def _identities(value) -> list:
    """``value`` and what it wraps (a spy's ``__wrapped__``, a tf.function's Python function, a getter)."""
    found = [value]
    for attribute in ("__wrapped__", "python_function", "fget"):
        inner = getattr(value, attribute, None) if not isinstance(value, type) else None
        if inner is not None and callable(inner):
            found.append(inner)
    return found


class _AnswerKeySearch:
    """Finds the answer key in one changed learner cell: references by identity and by name."""

    def __init__(self, answer_keys: dict[str, tuple], aliases: dict[str, str]):
        self.keys = [(exercise, name) for exercise, names in answer_keys.items() for name in names]
        self.exercises = list(answer_keys)
        self.modules = {name.rpartition(".")[0] for _, name in self.keys}
        self.aliases, self.resolve = aliases, _Resolver()
        self.targets: dict[int, list[tuple[str, str]]] = {}
        for exercise, name in self.keys:
            reference = self.resolve(name)
            for identity in _identities(reference) if reference is not _NOT_FOUND else []:
                self.targets.setdefault(id(identity), []).append((exercise, name))

    def candidates(self, node) -> list[str]:
        """The dotted paths and strings ``node`` names."""
        if isinstance(node, (ast.Attribute, ast.Name)):
            return [_dotted(node, self.aliases)]
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            return [f"{node.module}.{alias.name}" for alias in node.names]
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value.strip()]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            base = _dotted(node.args[0], self.aliases)
            return [f"{base}.{node.args[1].value}"] if base else []
        return []

    def uses(self, node, cell: PlannedCell, line: str) -> list[tuple[str, str, bool]]:
        """``(exercise, reference name, module only)`` of every answer-key use ``node`` makes."""
        found = []
        for dotted in filter(None, self.candidates(node)):
            value = (
                self.resolve(dotted)
                if isinstance(node, (ast.Attribute, ast.Name, ast.Call, ast.ImportFrom))
                else _NOT_FOUND
            )
            if value is not _NOT_FOUND:
                for identity in _identities(value):
                    found += [(exercise, name, False) for exercise, name in self.targets.get(id(identity), [])]
                if value is checks.EXERCISES or isinstance(value, checks.Exercise):
                    found += [(exercise, CHECKS_ANSWER_KEY, False) for exercise in self.owners(value, cell, line)]
            for exercise, name in self.keys:
                direct = _matches(dotted, name)
                module_only = (
                    not direct
                    and dotted in self.modules
                    and dotted == name.rpartition(".")[0]
                    and not isinstance(node, (ast.Attribute, ast.Name))
                )
                if direct or module_only:
                    found.append((exercise, name, module_only))
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("reference", "exercise")
            and (_root(node.value, self.aliases) or "").startswith("utils.checks")
        ):
            found += [(exercise, CHECKS_ANSWER_KEY, False) for exercise in self.owners(None, cell, line)]
        return found

    def owners(self, value, cell: PlannedCell, line: str) -> list[str]:
        """The exercises a use of the checks' declarations is charged to: the declaration's own, else the
        exercises its line names, else the cell's exercise, else every exercise of the notebook."""
        if isinstance(value, checks.Exercise) and value.name in self.exercises:
            return [value.name]
        named = [exercise for exercise in self.exercises if f"'{exercise}'" in line or f'"{exercise}"' in line]
        if named:
            return named
        return [cell.exercise] if cell.exercise in self.exercises else list(self.exercises)


def answer_key_uses(plan: list[PlannedCell], answer_keys: dict[str, tuple]) -> list[AnswerKeyUse]:
    """Every reference to an answer key in the learner cells the learner wrote or changed.

    Imports and aliases anywhere in the learner's cells (unchanged ones included, e.g. the notebook's
    setup cell) tell what a name stands for; references are searched only in changed or added cells,
    so the course's own demonstration cells never count. Found:

    * attribute chains and names, resolved by object identity: the grader imports the module a
      chain names and compares what the chain reaches with every reference of the answer key and
      what wraps it (``arithmetic.conv_output_length``, ``from utils.losses import triplet_loss``,
      ``checks.convnets.arithmetic.conv_output_length`` as a default argument, an alias
      ``helper = arithmetic``, a re-export through a package);
    * the checks' own declarations: ``checks.EXERCISES``, a check's ``.exercise`` or ``.reference``;
    * ``getattr(module, "name")``, and strings naming a reference or its module
      (``importlib.import_module("utils.losses")``).

    Code built at run time from pieces of strings is not found here (see docs/GRADING.md); the
    spies the grader installs before the learner's first cell record such calls when a check runs.

    Args:
        plan: the planned cells (:func:`plan_cells`).
        answer_keys: exercise -> qualified names of its references (the declarations' ``answer_key``).

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
    if not answer_keys:
        return []
    trees, aliases = [], {}
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
    search = _AnswerKeySearch(answer_keys, aliases)
    found: dict[tuple[str, str], AnswerKeyUse] = {}
    for cell, tree in trees:
        lines = cell.source.split("\n")
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 1)
            code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            for exercise, name, module_only in search.uses(node, cell, code):
                if (exercise, name) not in found:
                    found[(exercise, name)] = AnswerKeyUse(exercise, name, cell.position, line, code, module_only)
    return list(found.values())
