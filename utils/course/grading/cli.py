"""``python -m utils.grade``: grade submissions; ``merge`` shards' results; build a Gradescope autograder.

::

    python -m utils.grade SUBMISSION.ipynb|FOLDER ... [--json OUT] [--csv GRADEBOOK] [--feedback DIR]
                          [--results DIR] [--resume] [--jobs N] [--shard I/N] [sandbox] [limits ...]
    python -m utils.grade merge RESULTS_DIR ... [--json OUT] [--csv GRADEBOOK] [--feedback DIR]
    python -m utils.grade gradescope OUT.zip [--solutions FOLDER] [sandbox] [limits ...]

Every kernel runs in a sandbox (``--sandbox bubblewrap``, the default; ``podman`` or ``docker``
with ``--container-image``); where none can be made the grader refuses in one line, and grades
unconfined only with ``--no-sandbox`` (it then prints what is not contained). Run as a command
(``utils/grade.py``), the grader first re-executes itself with a clean environment and a private
bytecode cache (:func:`utils.course.grading.environment.reexec_clean`). Exit status 0 when grading
completed whatever the scores, 2 with one line on stderr for unusable input.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from utils import files
from utils.course.grading import gradescope, runner
from utils.course.grading.assignment import DEFAULT_SOLUTIONS, Solutions, collect_submissions, read_submissions
from utils.course.grading.kernel import Limits
from utils.course.grading.reports import ResultStore, format_table, merge, write_feedback, write_gradebook, write_json
from utils.course.grading.sandbox import KINDS, make_sandbox
from utils.errors import CourseError, UsageError, report

SUBCOMMANDS = ("merge", "gradescope", "gradescope-run")


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
        return value

    return parse


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N (e.g. 0/4)") from None
    if not (count >= 1 and 0 <= index < count):
        raise argparse.ArgumentTypeError(f"{text!r}: I must be 0..N-1 and N at least 1")
    return index, count


def _add_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--solutions",
        metavar="FOLDER",
        default=str(DEFAULT_SOLUTIONS),
        help="folder of solution notebooks (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=Limits.cell_seconds,
        metavar="SECONDS",
        help="time limit per cell; the cell is interrupted and its exercise is an error (default: %(default)g)",
    )
    parser.add_argument(
        "--notebook-timeout",
        type=_positive(float),
        default=Limits.notebook_seconds,
        metavar="SECONDS",
        help="time limit per submission (default: %(default)g)",
    )
    parser.add_argument(
        "--memory",
        type=_positive(int),
        default=Limits.memory_mib,
        metavar="MIB",
        help="memory limit of each kernel's process tree in MiB (default: %(default)s)",
    )
    parser.add_argument(
        "--cpu-time",
        type=_positive(int),
        default=None,
        metavar="SECONDS",
        help="CPU-time limit of each kernel (default: the notebook time limit times the usable cores)",
    )
    parser.add_argument(
        "--scratch",
        type=_positive(int),
        default=Limits.scratch_mib,
        metavar="MIB",
        help="size of each kernel's private tmpfs inside the sandbox, in MiB: HOME, TMPDIR, work "
        "folder (default: %(default)s)",
    )
    parser.add_argument(
        "--fast",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the notebooks in fast mode, COURSE_FAST=1 (default; the checks are the "
        "same, only the demonstrations are smaller)",
    )
    parser.add_argument(
        "--sandbox",
        choices=KINDS + ("bwrap",),
        default="bubblewrap",
        help="where each kernel runs: a bubblewrap sandbox (default), a podman or docker "
        "container (with --container-image), or none (same as --no-sandbox)",
    )
    parser.add_argument(
        "--no-sandbox",
        dest="sandbox",
        action="store_const",
        const="none",
        help="run learner code unconfined, as your user (only the limits apply; not for untrusted submissions)",
    )
    parser.add_argument(
        "--container-image",
        metavar="IMAGE",
        default="",
        help="the image of --sandbox podman|docker (the system under the mounted Python)",
    )


def _add_outputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="OUT", help="write the grades as JSON")
    parser.add_argument("--csv", metavar="GRADEBOOK", help="write a CSV gradebook: one row per submission")
    parser.add_argument("--feedback", metavar="DIR", help="write one HTML feedback page per submission into DIR")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils.grade",
        description="Grade submitted student notebooks with the course's checks, hidden cases included. Each "
        "submission runs in a fresh kernel in its own sandbox, with time and memory limits; every verdict is decided "
        "in the grader's process (docs/GRADING.md). Other commands: `merge RESULTS_DIR...` joins "
        "the results of shards; `gradescope OUT.zip` writes a Gradescope autograder.",
    )
    parser.add_argument(
        "submissions",
        nargs="+",
        metavar="SUBMISSION",
        help="a submitted .ipynb, or a folder of them (any file names; links are refused)",
    )
    _add_outputs(parser)
    parser.add_argument(
        "--results",
        metavar="DIR",
        help="save each submission's result here as soon as it is graded (default: OUT.results/ "
        "beside --json, else beside --csv)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="skip the submissions whose result is already saved (same file, same solution)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive(int),
        default=None,
        metavar="N",
        help="grade N submissions at once (default: the usable cores, at most as many kernels "
        "as fit in the available memory at --memory each)",
    )
    parser.add_argument(
        "--shard",
        type=_shard,
        default=None,
        metavar="I/N",
        help="grade only every N-th submission from the I-th (0-based; e.g. $SLURM_ARRAY_TASK_ID/N "
        "or $JOB_COMPLETION_INDEX/N); join the shards with `merge`",
    )
    parser.add_argument(
        "--watch",
        metavar="FOLDER",
        default=str(runner.LIBRARY),
        help="stop grading if a file under FOLDER changes (a learner's code rewriting the course "
        "every kernel imports); default: %(default)s; 'none' turns it off",
    )
    _add_limits(parser)
    return parser


def _limits(args) -> Limits:
    return Limits(
        cell_seconds=args.timeout,
        notebook_seconds=args.notebook_timeout,
        memory_mib=args.memory,
        cpu_seconds=args.cpu_time,
        scratch_mib=args.scratch,
        fast=args.fast,
    )


def _sandbox(args):
    """The checked sandbox of ``--sandbox``; its description (what is not contained, without one) on stderr."""
    sandbox = make_sandbox(args.sandbox, args.container_image, args.memory)
    print(f"grading: {sandbox.describe()}", file=sys.stderr, flush=True)
    return sandbox


def _results_folder(args) -> Path | None:
    if args.results:
        return Path(args.results)
    for option in (args.json, args.csv):
        if option:
            path = Path(option)
            return path.with_name(path.stem + ".results")
    return None


def _check_outputs(args, inputs) -> None:
    outputs = {option: Path(value) for option, value in (("--json", args.json), ("--csv", args.csv)) if value}
    for option, output in outputs.items():
        files.check_writable(output, inputs=inputs, what=option)
    if len(outputs) == 2 and outputs["--json"].resolve() == outputs["--csv"].resolve():
        raise UsageError(f"--json and --csv name the same file {args.json}")
    for option, folder in (
        ("--feedback", getattr(args, "feedback", None)),
        ("--results", getattr(args, "results", None)),
    ):
        if folder and Path(folder).exists() and not Path(folder).is_dir():
            raise UsageError(f"{option} {folder} is a file, not a folder")


def _write_outputs(args, results) -> None:
    if args.json:
        write_json(args.json, results)
    if args.csv:
        write_gradebook(args.csv, results)
    if args.feedback:
        for result in results:
            write_feedback(args.feedback, result)


def grade_command(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    limits = _limits(args)
    try:
        paths = collect_submissions(args.submissions)
        solutions = Solutions(args.solutions)
        submissions = read_submissions(paths, solutions)  # all read before the first kernel starts
        _check_outputs(args, paths)
        folder = _results_folder(args)
        store = ResultStore(folder) if folder else None
        if args.resume and store is None:
            raise UsageError("--resume needs a results folder (--results, or --json/--csv to derive it from)")
        selected = runner.select_shard(submissions, args.shard)
        jobs = args.jobs or runner.default_jobs(limits)
        watch = None if args.watch.lower() == "none" else Path(args.watch)
        sandbox = _sandbox(args)
        results = runner.grade_all(
            selected,
            limits,
            jobs=jobs,
            store=store,
            resume=args.resume,
            on_result=lambda result: print(format_table([result]), flush=True),
            watch=watch,
            sandbox=sandbox,
        )
        _write_outputs(args, results)
    except (CourseError, OSError) as error:
        return report(error)
    return 0


def merge_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m utils.grade merge",
        description="Join the results folders of several shards into one JSON, "
        "gradebook and feedback set (sorted by submission).",
    )
    parser.add_argument("folders", nargs="+", metavar="RESULTS_DIR")
    _add_outputs(parser)
    args = parser.parse_args(argv)
    try:
        _check_outputs(args, [])
        results = merge(args.folders)
        print(f"{len(results)} submissions merged from {len(args.folders)} results folders")
        _write_outputs(args, results)
    except (CourseError, OSError) as error:
        return report(error)
    return 0


def gradescope_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m utils.grade gradescope",
        description="Write a Gradescope autograder zip (setup.sh, run_autograder, "
        "the course library and the solution notebooks).",
    )
    parser.add_argument("out", metavar="OUT.zip")
    _add_limits(parser)
    args = parser.parse_args(argv)
    options = [
        "--timeout",
        f"{args.timeout:g}",
        "--notebook-timeout",
        f"{args.notebook_timeout:g}",
        "--memory",
        str(args.memory),
        "--scratch",
        str(args.scratch),
        "--fast" if args.fast else "--no-fast",
        "--sandbox",
        args.sandbox,
    ]
    if args.container_image:
        options += ["--container-image", args.container_image]
    if args.cpu_time:
        options += ["--cpu-time", str(args.cpu_time)]
    try:
        path = gradescope.build_bundle(args.out, args.solutions, options)
    except (CourseError, OSError) as error:
        return report(error)
    print(f"wrote {path}: upload it as the autograder of a Gradescope programming assignment")
    return 0


def gradescope_run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m utils.grade gradescope-run",
        description="Inside Gradescope: grade ROOT/submission, write ROOT/results/results.json.",
    )
    parser.add_argument("--root", default="/autograder")
    _add_limits(parser)
    args = parser.parse_args(argv)
    document = gradescope.run(args.root, args.solutions, _limits(args), args.sandbox, args.container_image)
    print(document["output"])
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.grade``: returns 0 when the command completed, 2 for unusable input.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        command = {"merge": merge_command, "gradescope": gradescope_command, "gradescope-run": gradescope_run_command}[
            argv[0]
        ]
        return command(argv[1:])
    return grade_command(argv)
