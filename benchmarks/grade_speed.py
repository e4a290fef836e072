"""Submissions graded per hour by ``python -m utils.grade``: one at a time vs several at once.

For each course notebook asked (default 06 and 01), N copies of its solution notebook (each
graded as a learner's submission: full marks expected) are graded twice with the real course
checks in fast mode, first with ``jobs=1``, then with ``jobs=J`` (default: the usable cores).
Prints seconds and submissions per hour for each, and the machine (CPU model, cores), and
writes them as JSON with ``--json``. Grading here is the whole path: a fresh kernel per
submission, every cell of the notebook, every check judged in the grader's process.

    python benchmarks/grade_speed.py --notebooks 06 01 --submissions 4 --json grade_speed.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils import config  # noqa: E402
from utils.course.grading import Limits, Solutions, grade_all, read_submissions  # noqa: E402
from utils.course.grading.kernel import usable_cores  # noqa: E402


def cpu_model() -> str:
    """The CPU's model name (lscpu where it exists, else the platform's word for it)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in text.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or platform.machine()


def measure(notebook: Path, copies: int, jobs: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="grade-speed-"))
    try:
        paths = []
        for number in range(copies):
            path = folder / f"learner_{number:02}.ipynb"
            shutil.copyfile(notebook, path)
            paths.append(path)
        submissions = read_submissions(paths, Solutions(notebook.parent))
        started = time.monotonic()
        results = grade_all(submissions, Limits(fast=True), jobs=jobs, watch=None)
        seconds = time.monotonic() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"jobs": jobs, "submissions": copies, "seconds": round(seconds, 1),
            "per_hour": round(copies / seconds * 3600, 1),
            "full_marks": sum(result.score == result.max_score for result in results),
            "peak_memory_mib": round(max(result.peak_memory_mib for result in results), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="+", default=["06", "01"], help="notebook numbers (default: 06 01)")
    parser.add_argument("--submissions", type=int, default=4, help="copies graded per run (default: 4)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel run's jobs (default: the usable cores)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    jobs = args.jobs or max(2, usable_cores())
    machine = {"cpu": cpu_model(), "usable_cores": usable_cores(), "python": platform.python_version()}
    print(f"CPU: {machine['cpu']}, {machine['usable_cores']} usable cores; {args.submissions} submissions per run")
    figures = {"machine": machine, "notebooks": {}}
    for number in args.notebooks:
        [notebook] = sorted((config.REPO_ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        runs = [measure(notebook, args.submissions, 1), measure(notebook, args.submissions, jobs)]
        figures["notebooks"][notebook.stem] = runs
        for run in runs:
            print(f"{notebook.stem}: jobs={run['jobs']}: {run['seconds']:.0f} s for {run['submissions']} -> "
                  f"{run['per_hour']:.0f} submissions/hour ({run['full_marks']}/{run['submissions']} full marks, "
                  f"peak {run['peak_memory_mib']:.0f} MiB per kernel tree)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
