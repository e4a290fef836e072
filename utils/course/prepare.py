"""The project's setup step after ``pip install``: get every asset, then make the derived ones.

``make setup`` runs ``python -m utils.course.prepare``. Each step is a function that does its work
only when needed (so running it twice is cheap) and returns its report lines; ``--force`` redoes
every step. The steps:

1. :func:`fetch_assets` — :func:`utils.assets.ensure`: every weight file and data set found in a
   mirror folder (``$COURSE_ASSETS``, ``../shared``; then the network is never touched) or
   fetched from its canonical source, checksum-verified; one line per asset;
2. :func:`prepare_face_encoder` — converts dlib's face ResNet to
   ``weights/dlib_face_resnet.keras`` (a few seconds).

A step that cannot work (an asset missing or corrupt, dlib's file of another format) prints one
``error: ...`` line and the command exits with status 2.

Example:
    $ python -m utils.course.prepare            # convert what is missing, then print the asset table
    $ python -m utils.course.prepare --force    # redo every step
"""

from __future__ import annotations

import argparse
import json
import time

from utils import assets
from utils.errors import AssetError, CourseError, report
from utils.faces import dlib_resnet


def _converted_model_is_current(path) -> bool:
    """True when the sidecar says this file came from the current converter and dlib file."""
    try:
        record = json.loads(assets.sidecar_path(path).read_text())
    except (OSError, ValueError):
        return False
    source = assets.get("dlib_face_resnet_dat").sha256
    return record.get("converter") == dlib_resnet.CONVERTER_ID and record.get("source_sha256") == source


def fetch_assets(force: bool = False) -> list[str]:
    """Verify every asset and get the missing ones (see :func:`utils.assets.ensure`).

    Raises:
        AssetError: a needed asset is missing or corrupt (after every line has been printed).
    """
    lines = assets.ensure()
    for line in lines:
        print(line, flush=True)
    failed = [line.split()[0] for line in lines if line.split()[1] in ("MISSING", "CORRUPT")]
    if failed:
        raise AssetError(
            f"{', '.join(failed)} could not be made available (see the lines above); the course needs them"
        )
    return []


def prepare_face_encoder(force: bool = False) -> str:
    """Convert dlib's ``.dat`` face ResNet to Keras unless a verified, current copy exists.

    Args:
        force: convert even when ``weights/dlib_face_resnet.keras`` already verifies.

    Returns:
        A one-line report of what was done.
    """
    if not force:
        try:
            existing = assets.find("dlib_face_resnet_keras")
        except AssetError:
            existing = None  # corrupt: convert again
        if existing is not None and _converted_model_is_current(existing):
            return f"face encoder: {existing} verifies, kept (use --force to convert again)"
    start = time.perf_counter()
    path = dlib_resnet.convert()
    return f"face encoder: converted dlib's model to {path} in {time.perf_counter() - start:.1f} s"


#: The setup steps, in order. Each takes ``force`` and returns a report line (or prints its own).
STEPS = (fetch_assets, prepare_face_encoder)


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m utils.course.prepare [--force]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.course.prepare", description="Make the project's derived assets (run after pip install)."
    )
    parser.add_argument("--force", action="store_true", help="redo every step even if its output verifies")
    args = parser.parse_args(argv)
    try:
        for step in STEPS:
            report_line = step(force=args.force)
            if report_line:
                print(report_line, flush=True)
    except (CourseError, OSError) as error:
        return report(error)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
