"""Every docstring example in ``utils`` runs (those that need weights or take long are ``+SKIP``).

One test per module, so a failing example names its module. ``__main__`` modules are not
imported (that would run a command line).
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parent.parent / "utils"


def _modules() -> list[str]:
    names = []
    for path in sorted(UTILS.rglob("*.py")):
        parts = path.relative_to(UTILS.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def _examples(module) -> tuple[int, int]:
    """(examples that run, examples skipped) in ``module``'s docstrings."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    running = skipped = 0
    for test in finder.find(module, module.__name__):
        for example in test.examples:
            if example.options.get(doctest.SKIP):
                skipped += 1
            else:
                running += 1
    return running, skipped


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False, report=True
    )
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed (see the output above)"


def test_most_examples_run():
    """Skipping is for examples that need weights or real data, not the rule."""
    running = skipped = 0
    for name in _modules():
        module_running, module_skipped = _examples(importlib.import_module(name))
        running += module_running
        skipped += module_skipped
    assert running > skipped, f"{running} docstring examples run and {skipped} are skipped"
