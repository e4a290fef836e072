"""No module under ``utils/`` uses an operating-system service that exists on Linux only (issue 24).

The library runs on Linux, macOS and Windows (README, "Supported systems"). Reading ``/proc``,
``fcntl`` locks, ``os.kill(pid, 0)`` as an "is it alive" probe (on Windows it *sends* Ctrl+C) and
an unguarded ``import resource`` (missing on Windows) all silently misbehave or crash elsewhere;
the portable services are ``filelock`` (locks) and ``psutil`` (processes, memory). The scan reads
each module's syntax tree, so comments and docstrings that *mention* ``/proc`` do not count, while
code kept in a string and run elsewhere (a kernel preamble) does.

A documented fallback may stay: :data:`ALLOWED` lists each with the reason.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UTILS = ROOT / "utils"

#: (module path relative to the checkout, what it uses) -> why that is a documented fallback.
ALLOWED = {
    (
        "utils/config.py",
        "/proc/cpuinfo",
    ): "CPU feature flags for the bf16 choice; no portable library reports them, and where the file "
    "is missing (macOS, Windows) the module documents and returns float32",
    (
        "utils/course/grading/sandbox.py",
        "/proc",
    ): "the mount point of the sandbox's own procfs (bubblewrap's --proc argument), never read by the "
    "grader; the bubblewrap sandbox refuses, in one line, anywhere but Linux",
}

_EMBEDDED_IMPORT = re.compile(r"^\s*(?:import|from)\s+[\w., ]*\b(resource|fcntl)\b", re.MULTILINE)
_GUARDS = {"ImportError", "ModuleNotFoundError"}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _guarded_imports(tree: ast.AST) -> set[int]:
    """Import nodes inside ``try: ... except ImportError`` or under an ``if`` on the platform."""
    guarded = set()
    for node in ast.walk(tree):
        body = []
        if isinstance(node, ast.Try):
            names = set()
            for handler in node.handlers:
                kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                names |= {kind.id for kind in kinds if isinstance(kind, ast.Name)}
            if names & _GUARDS:
                body = node.body
        elif isinstance(node, ast.If) and re.search(r"sys\.platform|os\.name|platform\.system", ast.unparse(node.test)):
            body = node.body + node.orelse
        for statement in body:
            guarded |= {id(inner) for inner in ast.walk(statement) if isinstance(inner, (ast.Import, ast.ImportFrom))}
    return guarded


def _embedded_problems(code: str) -> list[str]:
    """``fcntl`` / unguarded ``resource`` imports of Python code kept in a string (run elsewhere).

    The string is parsed and scanned like a module when it is valid Python (so its own
    ``try/except ImportError`` or platform ``if`` guards count); otherwise every such import counts.
    """
    try:
        inner = scan_source(textwrap.dedent(code))
    except SyntaxError:
        return [match.group(1) for match in _EMBEDDED_IMPORT.finditer(code)]
    return [what.replace("unguarded ", "") for _, what in inner if what in ("fcntl", "unguarded resource")]


def scan_source(source: str, name: str = "<source>") -> list[tuple[int, str]]:
    """``[(line, what)]`` for every Linux-only use in ``source`` (see the module docstring).

    Example:
        >>> scan_source("import fcntl")
        [(1, 'fcntl')]
    """
    tree = ast.parse(source, filename=name)
    docstrings, guarded = _docstring_nodes(tree), _guarded_imports(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                root = module.split(".")[0]
                if root == "fcntl":
                    found.append((node.lineno, "fcntl"))
                elif root == "resource" and id(node) not in guarded:
                    found.append((node.lineno, "unguarded resource"))
        elif isinstance(node, ast.Call):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if (
                called == "kill"
                and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == 0
            ):
                found.append((node.lineno, "os.kill(pid, 0)"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            for match in re.finditer(r"/proc(?!\w)(?:/[\w.-]*)*", node.value):
                found.append((node.lineno, match.group(0)))
            if _EMBEDDED_IMPORT.search(node.value):
                found.extend(
                    (node.lineno, f"{what} imported by code in a string") for what in _embedded_problems(node.value)
                )
    return sorted(found)


def scan_tree(folder: Path = UTILS) -> list[str]:
    """Every finding under ``folder`` as ``"utils/x.py:LINE: what"``, :data:`ALLOWED` ones left out."""
    problems = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for line, what in scan_source(path.read_text(encoding="utf-8"), relative):
            if (relative, what) not in ALLOWED:
                problems.append(f"{relative}:{line}: {what}")
    return problems


@pytest.mark.parametrize(
    "source, expected",
    [
        ("open('/proc/meminfo').read()", [(1, "/proc/meminfo")]),
        ("import os\npid = 3\nopen(f'/proc/{pid}/status')", [(3, "/proc/")]),
        ("import os\nos.scandir('/proc')", [(2, "/proc")]),
        ("import fcntl", [(1, "fcntl")]),
        ("from fcntl import flock", [(1, "fcntl")]),
        ("import os\nos.kill(1234, 0)", [(2, "os.kill(pid, 0)")]),
        ("from os import kill\nkill(1234, 0)", [(2, "os.kill(pid, 0)")]),
        ("import resource", [(1, "unguarded resource")]),
        ("def f():\n    import resource\n    return resource", [(2, "unguarded resource")]),
        (
            "PRE = '''\nimport os, resource, sys\nresource.setrlimit(1, (1, 1))\n'''",
            [(1, "resource imported by code in a string")],
        ),
        ("PRE = 'import fcntl, sys'", [(1, "fcntl imported by code in a string")]),
    ],
)
def test_the_scan_finds_each_linux_only_use(source, expected):
    assert scan_source(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        '"""Reads nothing from /proc; see fcntl.flock."""',  # a docstring only mentions them
        "try:\n    import resource\nexcept ImportError:\n    resource = None",
        "import sys\nif sys.platform != 'win32':\n    import resource",
        "import os, signal\nos.kill(1234, signal.SIGTERM)",  # sending a real signal is not a probe
        "import psutil\npsutil.pid_exists(1234)",
        "path = '/process/list'",
        "PRE = '''\ntry:\n    import resource\nexcept ImportError:\n    resource = None\n'''",
        "PRE = '''\nimport sys\nif sys.platform != 'win32':\n    import resource\n'''",
    ],
)
def test_the_scan_accepts_portable_or_guarded_code(source):
    assert scan_source(source) == []


def test_no_module_under_utils_uses_a_linux_only_service():
    problems = scan_tree()
    assert not problems, (
        "Linux-only OS services in the library (use psutil / filelock, or guard "
        "the import and document the fallback):\n" + "\n".join(problems)
    )


def test_every_allowed_fallback_is_still_there():
    """An entry of ALLOWED whose use was removed must leave the list too (no stale exceptions)."""
    for (relative, what), _reason in ALLOWED.items():
        uses = {found for _, found in scan_source((ROOT / relative).read_text(encoding="utf-8"), relative)}
        assert what in uses, f"{relative} no longer uses {what}: remove it from ALLOWED"


@pytest.mark.skipif(not Path("/proc/meminfo").is_file(), reason="Linux only: compares with /proc/meminfo")
def test_available_memory_is_linuxs_memavailable_through_psutil():
    """On Linux, the NST memory guard's figure is still ``MemAvailable`` (now read by psutil)."""
    from utils.nst import vgg

    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    mem_available = int(fields["MemAvailable"].split()[0]) * 1024
    reported = vgg.available_memory_bytes()
    assert abs(reported - mem_available) < 0.05 * mem_available  # memory moves between the two reads
