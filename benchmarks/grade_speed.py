"""Submissions graded per minute by ``python -m utils.grade``: one at a time vs several at once,
each kernel in its bubblewrap sandbox vs without one.

For each course notebook asked (default 06 and 01), N copies of its solution notebook (each
graded as a learner's submission: full marks expected) are graded with the real course checks in
fast mode, with ``jobs=1`` and ``jobs=J`` (default: the usable cores, at least 2), each time in
the sandbox and without it, back to back (so both see the same load). Prints seconds and
submissions per minute for each, the sandbox's cost in per cent, and the machine (CPU model,
cores), and writes them as JSON with ``--json``. Grading here is the whole path: a fresh kernel
(and sandbox) per submission, every cell of the notebook, every check judged in the grader's process.

    python benchmarks/grade_speed.py --notebooks 06 01 --submissions 4 --json grade_speed.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils import config
from utils.course.grading import Limits, NoSandbox, Solutions, grade_all, make_sandbox, read_submissions
from utils.course.grading.kernel import usable_cores


def measure(notebook: Path, copies: int, jobs: int, sandbox: str) -> dict:
    """Grade ``copies`` copies of ``notebook`` with ``jobs`` at once in ``sandbox`` ("bubblewrap" or "none")."""
    folder = Path(tempfile.mkdtemp(prefix="grade-speed-"))
    try:
        paths = []
        for number in range(copies):
            path = folder / f"learner_{number:02}.ipynb"
            shutil.copyfile(notebook, path)
            paths.append(path)
        submissions = read_submissions(paths, Solutions(notebook.parent))
        chosen = NoSandbox() if sandbox == "none" else make_sandbox(sandbox)
        started = time.monotonic()
        results = grade_all(submissions, Limits(fast=True), jobs=jobs, watch=None, sandbox=chosen)
        seconds = time.monotonic() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "sandbox": sandbox,
        "jobs": jobs,
        "submissions": copies,
        "seconds": round(seconds, 1),
        "per_minute": round(copies / seconds * 60, 2),
        "per_hour": round(copies / seconds * 3600, 1),
        "full_marks": sum(result.score == result.max_score for result in results),
        "peak_memory_mib": round(max(result.peak_memory_mib for result in results), 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="+", default=["06", "01"], help="notebook numbers (default: 06 01)")
    parser.add_argument("--submissions", type=int, default=4, help="copies graded per run (default: 4)")
    parser.add_argument(
        "--jobs", type=int, default=None, help="parallel run's jobs (default: the usable cores, at least 2)"
    )
    parser.add_argument(
        "--sandboxes",
        nargs="+",
        default=["bubblewrap", "none"],
        help="where the kernels run, each measured (default: bubblewrap none)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    jobs = args.jobs or max(2, usable_cores())
    machine = {
        "cpu": config.read_cpu_features().model,
        "usable_cores": usable_cores(),
        "python": platform.python_version(),
    }
    print(f"CPU: {machine['cpu']}, {machine['usable_cores']} usable cores; {args.submissions} submissions per run")
    figures = {"machine": machine, "notebooks": {}}
    for number in args.notebooks:
        [notebook] = sorted((config.REPO_ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        runs = []
        for count in sorted({1, jobs}):
            pair = []
            for sandbox in args.sandboxes:
                run = measure(notebook, args.submissions, count, sandbox)
                pair.append(run)
                print(
                    f"{notebook.stem}: jobs={run['jobs']} sandbox={sandbox}: {run['seconds']:.0f} s for "
                    f"{run['submissions']} -> {run['per_minute']:.2f} submissions/minute ({run['full_marks']}/"
                    f"{run['submissions']} full marks, peak {run['peak_memory_mib']:.0f} MiB per kernel tree)",
                    flush=True,
                )
            if len(pair) == 2 and pair[1]["per_minute"]:
                cost = 100 * (1 - pair[0]["per_minute"] / pair[1]["per_minute"])
                pair[0]["cost_percent"] = round(cost, 1)
                print(
                    f"{notebook.stem}: jobs={count}: {pair[0]['sandbox']} costs {cost:+.1f} % of the throughput "
                    f"of {pair[1]['sandbox']}",
                    flush=True,
                )
            runs += pair
        figures["notebooks"][notebook.stem] = runs
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
