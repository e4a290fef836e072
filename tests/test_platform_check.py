"""``python -m tools.check_platforms``: the parts that need no package registry (issue 24).

The full run asks PyPI (CI does it); here the requirement markers are evaluated per platform with
``packaging``, and pip runs offline (``--no-index``) through the script's launcher to show that
markers are evaluated for the *target* platform, not this machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import check_platforms  # noqa: E402  (tools/ is not an installed package)

PLATFORMS = {platform.name: platform for platform in check_platforms.PLATFORMS}


def _tensorflow_for(platform_name: str, python: str = "3.12") -> list[str]:
    environment = check_platforms.marker_environment(PLATFORMS[platform_name], python)
    chosen = []
    for line in check_platforms.requirement_lines():
        requirement = Requirement(line)
        if requirement.name.startswith("tensorflow") and (
            requirement.marker is None or requirement.marker.evaluate(environment)
        ):
            chosen.append(f"{requirement.name}{requirement.specifier}")
    return chosen


@pytest.mark.parametrize(
    "platform_name, expected",
    [
        ("Linux x86_64", ["tensorflow-cpu==2.21.0"]),
        ("Windows amd64", ["tensorflow-cpu==2.21.0"]),
        ("Linux aarch64", ["tensorflow==2.21.0"]),
        ("macOS arm64", ["tensorflow==2.21.0"]),
        ("macOS x86_64", ["tensorflow==2.21.0"]),  # asked for, and no wheel exists: "known not to work"
    ],
)
def test_each_platform_gets_exactly_one_tensorflow(platform_name, expected):
    assert _tensorflow_for(platform_name) == expected


def test_requirement_lines_drop_comments_and_source_only_packages():
    lines = check_platforms.requirement_lines()
    assert all("#" not in line for line in lines)
    assert not any(line.lower().startswith("face_recognition_models") for line in lines)
    assert {"psutil>=5.9", "filelock>=4.0"} <= set(lines)


@pytest.mark.parametrize("platform_name, ok", [("Windows amd64", False), ("Linux x86_64", True)])
def test_pip_evaluates_markers_for_the_target_platform(platform_name, ok):
    """A Windows-only requirement that exists nowhere: pip must look for it on Windows only."""
    result = check_platforms.resolve(
        PLATFORMS[platform_name],
        "3.12",
        ['no-such-package-anywhere-h3; sys_platform == "win32"'],
        pip_options=("--no-index",),
    )
    assert result.ok is ok
    if not ok:
        assert result.reason == "no wheel for no-such-package-anywhere-h3"


def test_failure_reasons_are_one_line():
    stderr = (
        "ERROR: Ignored the following versions that require a different python version\n"
        "ERROR: Could not find a version that satisfies the requirement tensorflow==2.21.0\n"
        "ERROR: No matching distribution found for tensorflow==2.21.0\n"
    )
    assert check_platforms._failure_reason(stderr) == "no wheel for tensorflow==2.21.0"
    stderr = "ERROR: Package 'keras' requires a different Python: 3.10.0 not in '>=3.11'\n"
    assert (
        check_platforms._failure_reason(stderr) == "Package 'keras' requires a different Python: 3.10.0 not in '>=3.11'"
    )


def test_the_verdict_separates_supported_from_known_broken():
    ok = [
        check_platforms.Result("Windows amd64", p, True, {"tensorflow-cpu": "2.21.0"}) for p in ("3.11", "3.12", "3.13")
    ]
    too_old = check_platforms.Result("Windows amd64", "3.10", False, {}, "Package 'keras' requires a different Python")
    assert check_platforms.verdict("Windows amd64", ok).startswith("supported (Python 3.11–3.13)")
    assert "Python 3.10 known not to work (keras 3.15.1 needs Python 3.11" in check_platforms.verdict(
        "Windows amd64", ok + [too_old]
    )
    broken = check_platforms.Result("Windows amd64", "3.12", False, {}, "no wheel for x")
    assert check_platforms.verdict("Windows amd64", [broken]) == "**FAILS** on Python 3.12"


def test_the_table_is_rewritten_in_its_docs_page_between_the_markers(tmp_path):
    """``--update-docs`` replaces the table of docs/SUPPORTED_SYSTEMS.md and keeps the rest of the page."""
    page = tmp_path / "SUPPORTED_SYSTEMS.md"
    original = check_platforms.PAGE.read_text(encoding="utf-8")
    begin, end = check_platforms.PAGE_MARKERS
    assert original.count(begin) == original.count(end) == 1, "the page lost its check-platforms markers"
    page.write_text(original, encoding="utf-8")
    check_platforms.update_page("| new | table |", page)
    head, rest = original.split(begin)
    _, tail = rest.split(end)
    assert page.read_text(encoding="utf-8") == f"{head}{begin}\n| new | table |\n{end}{tail}"
    page.write_text("no markers here", encoding="utf-8")
    with pytest.raises(SystemExit, match="no <!-- check-platforms:begin -->"):
        check_platforms.update_page("| new | table |", page)


def test_both_requirements_files_are_resolved():
    """What ``make setup`` installs is what the platforms are checked for: the runtime and the dev lines."""
    lines = check_platforms.requirement_lines()
    assert "keras==3.15.1" in lines and "nbval==0.11.0" in lines
    assert any(line.startswith("ruff==") for line in lines)
