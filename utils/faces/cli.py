"""The face-recognition command line: ``python -m utils.faces enroll|verify|identify|evaluate|set-threshold|reindex``.

Examples::

    python -m utils.faces enroll   --db people.npz --name ada ada1.jpg ada2.jpg
    python -m utils.faces verify   --db people.npz --name ada door_camera.jpg
    python -m utils.faces identify --db people.npz door_camera.jpg group.jpg
    python -m utils.faces evaluate --pairs lfw/pairs.txt --images lfw/images --json lfw.json --plot lfw.png
    python -m utils.faces set-threshold --db people.npz 0.55
    python -m utils.faces reindex  --db people.npz --index ivf-pq

Exit codes: 0 on success; 1 when ``verify`` finds that the face does not match; 2 for a user
error (unreadable image, no face, unknown identity, missing or corrupt database, bad name, output
that cannot be written, malformed pairs file), printed as one line ``error: ...`` on stderr.
``identify`` prints one tab-separated line per face found, reports each image it cannot read or
in which it finds no face on stderr, goes on with the others and exits 2 at the end if any failed.

Writing commands check the database path before any work (not a folder, not under a file, in a
writable folder). ``enroll`` encodes the images first and then holds the database's lock around
load -> add -> save, so concurrent ``enroll`` commands never lose an identity. The threshold of an
existing database changes only with ``set-threshold``, which says whether it got looser or
stricter; ``enroll --threshold`` sets the threshold of a new database only.

Example:
    >>> from utils.faces import cli
    >>> cli.build_parser().parse_args(["verify", "--db", "people.npz", "--name", "ada", "door.jpg"]).command
    'verify'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from utils import errors, files, plotting
from utils.faces import encoder, lfw
from utils.faces.database import FaceDatabase, check_identity
from utils.faces.index import KINDS, index_path


def _load_database(path: Path, threshold: float | None) -> FaceDatabase:
    if not path.exists():
        raise errors.UsageError(
            f"face database {path} does not exist; enroll someone first with "
            f"`python -m utils.faces enroll --db {path} --name NAME IMAGE`"
        )
    return FaceDatabase.load(path, threshold=threshold)


def _check_outputs(database_path: Path, inputs=()) -> None:
    """The database and its index file can be written (checked before any work)."""
    files.check_writable(database_path, inputs=inputs, what="database")
    files.check_writable(index_path(database_path), inputs=inputs, what="database index")


def _threshold_conflict(path: Path, stored: float, asked: float) -> errors.UsageError:
    return errors.UsageError(
        f"{path} already has threshold {stored:g}; enroll --threshold only sets the threshold of a new database. "
        f"To change it, run `python -m utils.faces set-threshold --db {path} {asked:g}`"
    )


def _command_enroll(args) -> int:
    path = Path(args.db)
    check_identity(args.name)
    _check_outputs(path, inputs=args.images)
    if args.threshold is not None:
        FaceDatabase(threshold=args.threshold)  # a bad value is refused before any work
    if path.exists():  # a missing, corrupt or foreign file is refused before any work
        stored = FaceDatabase.stored_threshold(path)
        if args.threshold is not None and args.threshold != stored:
            raise _threshold_conflict(path, stored, args.threshold)
    encodings = encoder.encode_images(list(args.images))  # slow: outside the lock
    with FaceDatabase.updating(path, threshold=args.threshold) as database:
        if args.threshold is not None and database.threshold != args.threshold:  # created meanwhile
            raise _threshold_conflict(path, database.threshold, args.threshold)
        added = database.enroll(args.name, encodings)
    print(
        f"enrolled {added} image(s) of {args.name}; {path} now holds {len(database)} "
        f"identities, {database.num_vectors} encodings"
    )
    return 0


def _command_set_threshold(args) -> int:
    path = Path(args.db)
    FaceDatabase(threshold=args.threshold)  # a bad value is refused before any work
    _check_outputs(path)
    with FaceDatabase.updating(path, create=False) as database:
        before = database.threshold
        database.threshold = args.threshold
    if args.threshold == before:
        print(f"{path}: threshold stays {before:g}")
    else:
        effect = (
            "looser: more impostors accepted, fewer true matches missed"
            if args.threshold > before
            else "stricter: fewer impostors accepted, more true matches missed"
        )
        print(f"{path}: threshold changed from {before:g} to {args.threshold:g} ({effect})")
    return 0


def _command_reindex(args) -> int:
    path = Path(args.db)
    _check_outputs(path)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the old index is replaced: no need to report it stale
        with FaceDatabase.updating(path, index=args.index, create=False) as database:
            kind = database.build_index(rebuild=True)
    info = database.index_info()
    size = f", {info['memory_bytes'] / 1e6:.1f} MB" if info.get("memory_bytes") else ""
    print(
        f"{path}: {database.num_vectors} encodings searched by {kind} (index {info['requested']}{size}); "
        f"{time.perf_counter() - started:.1f} s"
    )
    return 0


def _command_verify(args) -> int:
    database = _load_database(Path(args.db), threshold=args.threshold)
    if args.name not in database:
        raise errors.UnknownIdentityError(
            f"unknown identity {args.name!r}; enrolled: {', '.join(database.identities) or 'none'}"
        )
    distance, match = database.verify(encoder.encode_images([args.image])[0], args.name)
    print(
        f"{args.image}: {'MATCH' if match else 'NO MATCH'} {args.name} distance={distance:.4f} "
        f"threshold={database.threshold:g}"
    )
    return 0 if match else 1


def _command_identify(args) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        database = _load_database(Path(args.db), threshold=args.threshold)
    for warning in caught:  # e.g. a stale index, rebuilt in memory
        _note(warning.message, warning.category, warning.filename, warning.lineno)
    if not caught and database.search_kind != "exact" and not database.index_info()["built"]:
        _note(
            f"{args.db} has no saved index for its {database.num_vectors:,} encodings; building one now (run "
            f"`python -m utils.faces reindex --db {args.db}` once to save it)",
            UserWarning,
            "",
            0,
        )
    failures = 0
    for image in args.images:
        try:
            encodings, found = encoder.encode_all_faces(image)
        except (errors.NoFaceError, errors.ImageError) as error:  # report, go on with the others
            errors.report(error)
            failures += 1
            continue
        answers = database.identify_many(encodings)
        for number, (face, (distance, identity)) in enumerate(zip(found, answers)):
            x, y, width, height = (int(round(value)) for value in face.box)
            print(
                f"{image}\tface {number}\tbox=({x},{y},{width},{height})\t{identity}\tdistance={distance:.4f}",
                flush=True,
            )
    return 2 if failures else 0


def _command_evaluate(args) -> int:
    flip = None if args.flip is None else args.flip == "on"
    result = lfw.evaluate_lfw(
        args.pairs,
        args.images,
        threshold=args.threshold,
        flip=flip,
        max_pairs_per_fold=args.max_pairs_per_fold,
        use_cache=not args.no_cache,
        progress=not args.quiet,
    )
    print(result.summary())
    if args.json:
        files.write_text(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        plotting.plot_verification(result, path=args.plot)
        print(f"wrote {args.plot}")
    return 0


_COMMANDS = {
    "enroll": _command_enroll,
    "verify": _command_verify,
    "identify": _command_identify,
    "evaluate": _command_evaluate,
    "set-threshold": _command_set_threshold,
    "reindex": _command_reindex,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m utils.faces`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.faces",
        description="Face recognition with MTCNN + dlib's face ResNet: enroll people in a database, "
        "verify or identify faces, evaluate on LFW pairs.",
        epilog="exit codes: 0 ok, 1 verify found no match, 2 user error (one line on stderr). "
        "Run `python -m utils.faces COMMAND --help` for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enroll = commands.add_parser(
        "enroll",
        help="add images of one person to a database",
        description="Encode the largest face of each image and add the encodings "
        "to the database under NAME (the file is created if missing).",
    )
    enroll.add_argument("--db", required=True, help="database .npz (created if missing)")
    enroll.add_argument("--name", required=True, help="identity to enroll")
    enroll.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="threshold of a NEW database (default 0.6); an existing database keeps its own "
        "(change it with set-threshold)",
    )
    enroll.add_argument("images", nargs="+", help="image files (largest face of each)")

    set_threshold = commands.add_parser(
        "set-threshold",
        help="change the threshold stored in a database",
        description="Store a new decision threshold in the database and say "
        "whether it is looser or stricter than before.",
    )
    set_threshold.add_argument("--db", required=True, help="database .npz")
    set_threshold.add_argument("threshold", type=float, help="new threshold (distances below it match)")

    reindex = commands.add_parser(
        "reindex",
        help="rebuild (or choose) the search index of a database",
        description="Build the database's search index afresh and save it beside the "
        "database (FILE.faiss). 'auto' searches exactly below 250,000 "
        "encodings and with an IVF-PQ index above.",
    )
    reindex.add_argument("--db", required=True, help="database .npz")
    reindex.add_argument(
        "--index",
        choices=KINDS,
        default=None,
        help="index kind to use from now on (default: keep the database's, normally auto)",
    )

    verify = commands.add_parser(
        "verify",
        help="1:1 check of a probe against a name",
        description="Is the largest face of IMAGE the enrolled person NAME? "
        "Prints MATCH or NO MATCH with the distance; exit code 1 "
        "when it does not match.",
    )
    verify.add_argument("--db", required=True, help="database .npz")
    verify.add_argument("--name", required=True, help="claimed identity")
    verify.add_argument(
        "--threshold", type=float, default=None, help="decision threshold (default: the one stored in the database)"
    )
    verify.add_argument("image", help="image file of the person to check")

    identify = commands.add_parser(
        "identify",
        help="1:K search for every face in the images",
        description="For every face of every image, print the nearest enrolled "
        "identity, or 'not recognized' at or beyond the threshold.",
    )
    identify.add_argument("--db", required=True, help="database .npz")
    identify.add_argument(
        "--threshold", type=float, default=None, help="decision threshold (default: the one stored in the database)"
    )
    identify.add_argument("images", nargs="+", help="image files")

    evaluate = commands.add_parser(
        "evaluate",
        help="LFW-protocol evaluation on a pairs.txt",
        description="k-fold accuracy (threshold fitted on the other folds), AUC, "
        "EER and VAL@FAR=1e-3 on LFW-style pairs.",
    )
    evaluate.add_argument("--pairs", required=True, help="official LFW pairs.txt (any number of folds)")
    evaluate.add_argument("--images", required=True, help="folder with <Name>/<Name>_NNNN.jpg")
    evaluate.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="score this fixed threshold instead of fitting one on the other folds",
    )
    evaluate.add_argument(
        "--flip", choices=("on", "off"), default=None, help="flip test-time augmentation (default: on)"
    )
    evaluate.add_argument(
        "--max-pairs-per-fold", type=int, default=None, help="use a subset (default: all; fast mode: 100)"
    )
    evaluate.add_argument("--no-cache", action="store_true", help="do not use the on-disk chip cache")
    evaluate.add_argument("--json", help="write the figures to this JSON file")
    evaluate.add_argument("--plot", help="save the ROC + distance histograms to this PNG")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 verify said no match, 2 user error)."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _note  # e.g. a stale index that is being rebuilt: one line, then go on
        try:
            return _COMMANDS[args.command](args)
        except (errors.CourseError, OSError) as error:
            return errors.report(error)


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning as one ``note: ...`` line on stderr (no source line, no file name)."""
    print(f"note: {' '.join(str(message).split())}", file=sys.stderr)
