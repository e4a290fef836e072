"""The shape of the library: imports run one way, the core stays small, constants live once.

These tests read the source (``ast``), they import nothing, so they are fast and never depend on
TensorFlow. The layers, bottom to top, are documented in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parent.parent / "utils"

#: Layer of each top-level part of ``utils`` (an import may only go to the same or a lower layer).
LAYERS = {
    "utils": 0,
    "utils.config": 0,
    "utils.errors": 0,
    "utils.files": 0,
    "utils.assets": 0,
    "utils.image_io": 0,
    "utils.losses": 0,
    "utils.plotting": 0,
    "utils.widgets": 0,
    "utils.faces": 1,
    "utils.nst": 1,
    "utils.convnets": 1,
    "utils.checks": 2,
    "utils.course": 3,
    "utils.grade": 3,
}

#: Library modules that import TensorFlow at import time: deferring them is deferring TensorFlow.
DEFERRABLE_LIBRARY = (
    "utils.losses",
    "utils.widgets.camera",
)  # imports anywidget, needed only where a camera is offered

#: Modules whose function-level imports are allowed: deferring heavy or optional dependencies.
DEFERRABLE = (
    "tensorflow",
    "keras",
    "matplotlib",
    "mtcnn",
    "sklearn",
    "scipy",
    "h5py",
    "faiss",
    "pooch",
    "nbclient",
    "nbformat",
    "tqdm",
    "IPython",
    "PIL",
    "cv2",
    "resource",
    "fcntl",
    "pillow_heif",
    "anywidget",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(UTILS.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def library_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(UTILS.rglob("*.py"))}


def resolve_import(node, current: str, is_package: bool, known: set[str]) -> list[str]:
    """Names of ``utils`` modules an import statement reaches (submodules where they exist)."""
    targets = []
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            package = current if is_package else current.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = node.module or ""
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            targets.append(candidate if candidate in known else base)
    return [name for name in targets if name == "utils" or name.startswith("utils.")]


def import_graph() -> tuple[dict[str, set[str]], list[tuple[str, int, str]]]:
    """Edges module -> imported utils modules (function-level included), and function-level imports."""
    modules = library_modules()
    known = set(modules)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    nested: list[tuple[str, int, str]] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        top_level = set(map(id, tree.body))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in resolve_import(node, name, is_package, known):
                if target != name:
                    graph[name].add(target)
            if id(node) not in top_level and not _inside_try_or_if_at_top(tree, node):
                reached = resolve_import(node, name, is_package, known)
                if reached:
                    nested.extend((name, node.lineno, target) for target in reached)
                else:
                    module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                    nested.append((name, node.lineno, module or ""))
    return graph, nested


def _inside_try_or_if_at_top(tree: ast.Module, node) -> bool:
    for statement in tree.body:
        if isinstance(statement, (ast.Try, ast.If)) and any(child is node for child in ast.walk(statement)):
            return True
    return False


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a list of modules, or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for neighbour in sorted(graph.get(node, ())):
            if state.get(neighbour) == 1:
                return stack[stack.index(neighbour) :] + [neighbour]
            if neighbour not in state:
                found = visit(neighbour)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def layer_of(module: str) -> int:
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise KeyError(module)


def test_find_cycle_finds_a_cycle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_import_graph_has_no_cycle():
    graph, _ = import_graph()
    assert len(graph) > 20, "the walk found too few modules"
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_imports_only_go_down_the_layers():
    graph, _ = import_graph()
    upward = [
        f"{source} -> {target}"
        for source, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(source)
    ]
    assert not upward, "imports that go up the layers (see docs/ARCHITECTURE.md):\n" + "\n".join(upward)


def test_application_packages_do_not_import_each_other_at_module_level():
    allowed = {("utils.checks", "utils.faces"), ("utils.checks", "utils.nst"), ("utils.checks", "utils.convnets")}
    graph, _ = import_graph()
    apps = ("utils.faces", "utils.nst", "utils.convnets")
    crossing = []
    for source, targets in graph.items():
        source_app = next((app for app in apps if source == app or source.startswith(app + ".")), None)
        for target in targets:
            target_app = next((app for app in apps if target == app or target.startswith(app + ".")), None)
            if source_app and target_app and source_app != target_app and (source_app, target_app) not in allowed:
                crossing.append(f"{source} -> {target}")
    assert not crossing, "application packages import each other:\n" + "\n".join(crossing)


def test_function_level_imports_only_defer_heavy_or_optional_dependencies():
    _, nested = import_graph()
    offending = [
        f"{module}:{line} imports {name}"
        for module, line, name in nested
        if name.split(".")[0] not in DEFERRABLE and name not in DEFERRABLE_LIBRARY
    ]
    assert not offending, (
        "function-level imports of library modules (import them at the top; "
        "only TensorFlow/Keras and optional dependencies may be deferred):\n" + "\n".join(offending)
    )


def test_the_core_has_at_most_eight_modules():
    core = sorted(path.name for path in UTILS.glob("*.py") if path.name != "__init__.py")
    assert len(core) <= 8, f"utils/ holds {len(core)} top-level modules: {core}"


@pytest.mark.parametrize(
    "value, pattern",
    [
        ("not recognized", '"not recognized"'),
    ],
)
def test_each_face_constant_is_assigned_once(value, pattern):
    homes = [
        str(path.relative_to(UTILS.parent))
        for path in UTILS.rglob("*.py")
        if any(
            isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value == value
            for node in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert homes == ["utils/faces/constants.py"], f"{pattern} is assigned in {homes}"


def test_exceptions_are_defined_in_one_module():
    homes = {}
    for path in UTILS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name)
                and (base.id.endswith("Error") or base.id in ("Exception", "CheckFailed", "AssertionError"))
                for base in node.bases
            ):
                homes.setdefault(str(path.relative_to(UTILS.parent)), []).append(node.name)
    assert list(homes) == ["utils/errors.py"], f"exception classes outside utils/errors.py: {homes}"


@pytest.mark.parametrize(
    "name", ["NOT_RECOGNIZED", "DEFAULT_THRESHOLD", "CHIP_SIZE", "EMBEDDING_SIZE", "FLIP_DEFAULT", "MEAN_RGB"]
)
def test_face_constant_names_get_their_value_only_in_constants(name):
    homes = []
    for path in UTILS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == name for target in node.targets
            ):
                if not isinstance(node.value, (ast.Name, ast.Attribute)):  # an alias is fine
                    homes.append(str(path.relative_to(UTILS.parent)))
    assert homes == ["utils/faces/constants.py"], f"{name} is given a value in {homes}"


def test_the_checks_modules_stay_small_and_share_only_public_names():
    """utils/checks (docs/ARCHITECTURE.md, "Checks"): one concept per module, none over 600 lines, no
    function over 80, no `_private` name imported from another module, and an explicit `__all__`."""
    problems = []
    for path in sorted((UTILS / "checks").glob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        if len(source.splitlines()) > 600:
            problems.append(f"{path.name}: {len(source.splitlines())} lines")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                problems.append(f"{path.name}: {node.name} is {node.end_lineno - node.lineno + 1} lines")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("utils"):
                problems += [
                    f"{path.name} imports {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_")
                ]
    package = ast.parse((UTILS / "checks" / "__init__.py").read_text())
    if not any(
        isinstance(node, ast.Assign) and any(getattr(target, "id", "") == "__all__" for target in node.targets)
        for node in package.body
    ):
        problems.append("utils/checks/__init__.py has no __all__")
    assert not problems, "\n".join(problems)
