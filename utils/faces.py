"""Face recognition, course style: image -> 128-d encoding, verify, who_is_it, and a CLI.

Encoding an image means: detect faces with MTCNN, take the largest (``policy="largest"``),
align it to a 150x150 chip on the five-point template (:mod:`utils.face_align`) and run the dlib
face ResNet converted to Keras (:mod:`utils.face_encoder`). With ``flip=True`` the encoding is
the mean of the chip's and its mirror image's encodings (test-time augmentation); see
:data:`FLIP_DEFAULT` for what measured best.

Command line (exit code 2 with a one-line message for unreadable images, no face, unknown
identity or a missing/corrupt database; ``verify`` exits 1 when the face does not match;
``identify`` prints one tab-separated line per face, reports images without a face on stderr,
goes on with the others and exits 2 at the end)::

    python -m utils.faces enroll   --db faces.npz --name Colin_Powell a.jpg b.jpg
    python -m utils.faces verify   --db faces.npz --name Colin_Powell probe.jpg
    python -m utils.faces identify --db faces.npz probe1.jpg group.jpg
    python -m utils.faces evaluate --pairs pairs.txt --images lfw/images --json out.json --plot roc.png

Example:
    >>> from utils import faces
    >>> faces.img_to_encoding("younes.jpg").shape            # doctest: +SKIP
    (1, 128)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from utils import face_align

#: Test-time augmentation default: average the encodings of the chip and its mirror image.
#: Measured on LFW folds 1-2 (1200 pairs, ``python -m benchmarks.lfw_eval --compare-flip``):
#: flip on 99.00 % (AUC 0.99947, VAL@FAR<=1e-3 96.5 %) vs off 98.92 % (AUC 0.99944, VAL 95.7 %),
#: EER 1.0 % both; it costs a second forward pass per face, so it is on by default.
FLIP_DEFAULT = True


def encode_chips(chips: np.ndarray, model=None, flip: bool | None = None, batch_size: int = 32) -> np.ndarray:
    """Encode aligned 150x150 chips, optionally averaging with their mirror images.

    Args:
        chips: uint8 ``(n, 150, 150, 3)``.
        model: Keras encoder (default: ``utils.face_encoder.load_encoder()``).
        flip: average with the horizontally flipped chip (default :data:`FLIP_DEFAULT`).
        batch_size: chips per forward pass.

    Returns:
        float32 ``(n, 128)``.
    """
    from utils import face_encoder

    chips = np.asarray(chips)
    if chips.ndim != 4 or chips.shape[-1] != 3:
        raise ValueError(f"chips must have shape (n, height, width, 3); got {chips.shape}")
    flip = FLIP_DEFAULT if flip is None else flip
    if len(chips) == 0:
        return np.zeros((0, 128), dtype=np.float32)
    if not flip:
        return np.asarray(face_encoder.encode_chips(chips, model=model, batch_size=batch_size), np.float32)
    both = np.concatenate([chips, chips[:, :, ::-1, :]])
    encodings = np.asarray(face_encoder.encode_chips(both, model=model, batch_size=batch_size), np.float32)
    return 0.5 * (encodings[:len(chips)] + encodings[len(chips):])


def encode_images(images: Sequence, model=None, policy: str = "largest", flip: bool | None = None,
                  batch_size: int = 32) -> np.ndarray:
    """Encode one face per image (paths or arrays), batched through the encoder.

    Args:
        images: list of paths or RGB arrays.
        model: Keras encoder (default: the cached converted dlib ResNet).
        policy: which face of each image: ``"largest"`` or ``"central"``.
        flip: test-time flip averaging (default :data:`FLIP_DEFAULT`).
        batch_size: chips per forward pass.

    Returns:
        float32 ``(n, 128)``, row i for images[i].

    Raises:
        utils.face_align.NoFaceError: an image holds no face (names it).
        utils.image_io.ImageError: an image cannot be read.
    """
    if isinstance(images, (str, os.PathLike)) or (isinstance(images, np.ndarray) and images.ndim == 3):
        images = [images]
    if policy == "all":
        raise ValueError("encode_images encodes one face per image; use face_align.extract_face_chips("
                         "image, policy='all') and encode_chips for every face")
    chips = [face_align.extract_face_chips(image, policy=policy)[0] for image in images]
    if not chips:
        return np.zeros((0, 128), dtype=np.float32)
    return encode_chips(np.stack(chips), model=model, flip=flip, batch_size=batch_size)


def img_to_encoding(image_path_or_array, model=None) -> np.ndarray:
    """The course's ``img_to_encoding``: the largest face of one image -> encoding of shape (1, 128).

    Args:
        image_path_or_array: path or RGB array.
        model: Keras encoder (default: the cached converted dlib ResNet).

    Returns:
        float32 ``(1, 128)``.

    Example:
        >>> encoding = img_to_encoding("images/younes.jpg")    # doctest: +SKIP
        >>> encoding.shape                                      # doctest: +SKIP
        (1, 128)
    """
    return encode_images([image_path_or_array], model=model)


def _as_database(database, threshold: float | None):
    from utils.face_database import FaceDatabase

    if isinstance(database, FaceDatabase):
        if threshold is not None:
            copy = FaceDatabase(threshold=threshold, dimension=database.dimension)
            for name, encodings in database.items():
                copy.enroll_encodings(name, encodings)
            return copy
        return database
    return FaceDatabase.from_dict(database, threshold=threshold)


def verify(image_path, identity: str, database, model=None, threshold: float | None = None,
           verbose: bool = True) -> tuple[float, bool]:
    """The course's ``verify``: is the person in ``image_path`` really ``identity``?

    Args:
        image_path: path or array of the person at the door.
        identity: claimed name.
        database: ``{name: encoding}`` dict (course style) or a :class:`FaceDatabase`.
        model: encoder.
        threshold: decision threshold (default: the database's, 0.6 for dlib's encoder).
        verbose: print the course's welcome / go-away message.

    Returns:
        ``(distance, door_open)``.
    """
    faces_database = _as_database(database, threshold)
    distance, door_open = faces_database.verify(image_path, identity, model=model)
    if verbose:
        print(f"It's {identity}, welcome in!" if door_open else f"It's not {identity}, please go away")
    return distance, door_open


def who_is_it(image_path, database, model=None, threshold: float | None = None,
              verbose: bool = True) -> tuple[float, str]:
    """The course's ``who_is_it``: nearest enrolled identity of the face in ``image_path``.

    Returns:
        ``(min_distance, identity)``; identity is ``"not recognized"`` beyond the threshold.
    """
    faces_database = _as_database(database, threshold)
    distance, identity = faces_database.identify(image_path, model=model)
    if verbose:
        if identity == "not recognized":
            print("Not in the database.")
        else:
            print(f"it's {identity}, the distance is {distance:.3f}")
    return distance, identity


# --------------------------------------------------------------------------------- command line
class CommandError(Exception):
    """A user-facing CLI error (printed as one line, exit code 2)."""


def _load_database(path: Path, must_exist: bool, threshold: float | None):
    from utils.face_database import FaceDatabase

    if not path.exists():
        if must_exist:
            raise CommandError(f"face database {path} does not exist; enroll someone first with "
                               f"`python -m utils.faces enroll --db {path} --name NAME IMAGE`")
        return FaceDatabase(threshold=threshold)
    return FaceDatabase.load(path, threshold=threshold)


def _command_enroll(args) -> int:
    database = _load_database(Path(args.db), must_exist=False, threshold=args.threshold)
    added = database.enroll(args.name, list(args.images))
    database.save(args.db)
    print(f"enrolled {added} image(s) of {args.name}; {args.db} now holds {len(database)} "
          f"identities, {database.num_vectors} encodings")
    return 0


def _command_verify(args) -> int:
    database = _load_database(Path(args.db), must_exist=True, threshold=args.threshold)
    if args.name not in database:
        raise CommandError(f"unknown identity {args.name!r}; enrolled: {', '.join(database.identities) or 'none'}")
    distance, match = database.verify(args.image, args.name)
    print(f"{args.image}: {'MATCH' if match else 'NO MATCH'} {args.name} distance={distance:.4f} "
          f"threshold={database.threshold:g}")
    return 0 if match else 1


def _command_identify(args) -> int:
    from utils.image_io import ImageError

    database = _load_database(Path(args.db), must_exist=True, threshold=args.threshold)
    failures = 0
    for image in args.images:
        try:
            chips, found = face_align.extract_face_chips(image, policy="all", return_faces=True)
        except (face_align.NoFaceError, ImageError) as error:  # report, go on with the others
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        answers = database.identify_encodings(encode_chips(chips))
        for number, (face, (distance, identity)) in enumerate(zip(found, answers)):
            x, y, width, height = (int(round(value)) for value in face.box)
            print(f"{image}\tface {number}\tbox=({x},{y},{width},{height})\t{identity}\t"
                  f"distance={distance:.4f}")
    return 2 if failures else 0


def _command_evaluate(args) -> int:
    from utils import face_eval

    flip = None if args.flip is None else args.flip == "on"
    result = face_eval.evaluate_lfw(args.pairs, args.images, threshold=args.threshold, flip=flip,
                                    max_pairs_per_fold=args.max_pairs_per_fold,
                                    use_cache=not args.no_cache, progress=not args.quiet)
    print(result.summary())
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        figure = face_eval.plot_evaluation(result)
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(args.plot, dpi=100, bbox_inches="tight")
        print(f"wrote {args.plot}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m utils.faces`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m utils.faces",
                                     description="Face recognition with MTCNN + dlib's face ResNet.")
    commands = parser.add_subparsers(dest="command", required=True)

    enroll = commands.add_parser("enroll", help="add images of one person to a database")
    enroll.add_argument("--db", required=True, help="database .npz (created if missing)")
    enroll.add_argument("--name", required=True, help="identity to enroll")
    enroll.add_argument("--threshold", type=float, default=None, help="threshold to store (new DB)")
    enroll.add_argument("images", nargs="+", help="image files (largest face of each)")

    verify_parser = commands.add_parser("verify", help="1:1 check of a probe against a name")
    verify_parser.add_argument("--db", required=True)
    verify_parser.add_argument("--name", required=True)
    verify_parser.add_argument("--threshold", type=float, default=None)
    verify_parser.add_argument("image")

    identify = commands.add_parser("identify", help="1:K search for every face in the images")
    identify.add_argument("--db", required=True)
    identify.add_argument("--threshold", type=float, default=None)
    identify.add_argument("images", nargs="+")

    evaluate = commands.add_parser("evaluate", help="LFW-protocol evaluation on a pairs.txt")
    evaluate.add_argument("--pairs", required=True, help="official LFW pairs.txt (any number of folds)")
    evaluate.add_argument("--images", required=True, help="folder with <Name>/<Name>_NNNN.jpg")
    evaluate.add_argument("--threshold", type=float, default=None,
                          help="score this fixed threshold instead of fitting one on the other folds")
    evaluate.add_argument("--flip", choices=("on", "off"), default=None, help="flip test-time augmentation")
    evaluate.add_argument("--max-pairs-per-fold", type=int, default=None,
                          help="use a subset (default: all; fast mode: 100)")
    evaluate.add_argument("--no-cache", action="store_true", help="do not use the on-disk chip cache")
    evaluate.add_argument("--json", help="write the figures to this JSON file")
    evaluate.add_argument("--plot", help="save the ROC + distance histograms to this PNG")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 verify said no match, 2 user error)."""
    from utils.face_database import DatabaseError, UnknownIdentityError
    from utils.image_io import ImageError

    args = build_parser().parse_args(argv)
    handlers = {"enroll": _command_enroll, "verify": _command_verify,
                "identify": _command_identify, "evaluate": _command_evaluate}
    try:
        return handlers[args.command](args)
    except (CommandError, face_align.NoFaceError, ImageError, DatabaseError, UnknownIdentityError,
            FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
