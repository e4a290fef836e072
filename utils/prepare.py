"""The project's setup step after ``pip install``: make every derived asset, then show all assets.

``make setup`` runs ``python -m utils.prepare``. Each step is a function that does its work only
when needed (so running it twice is cheap) and prints one line; ``--force`` redoes every step.
Today the one step converts dlib's face ResNet to ``weights/dlib_face_resnet.keras``
(:func:`prepare_face_encoder`, a few seconds); the table of :func:`utils.assets.status_table`
follows.

Example:
    $ python -m utils.prepare            # convert what is missing, then print the asset table
    $ python -m utils.prepare --force    # redo every step
"""

from __future__ import annotations

import argparse
import json
import time

from utils import assets


def _converted_model_is_current(path) -> bool:
    """True when the sidecar says this file came from the current converter and dlib file."""
    from utils import dlib_resnet

    try:
        record = json.loads(assets.sidecar_path(path).read_text())
    except (OSError, ValueError):
        return False
    source = assets.get("dlib_face_resnet_dat").sha256
    return record.get("converter") == dlib_resnet.CONVERTER_ID and record.get("source_sha256") == source


def prepare_face_encoder(force: bool = False) -> str:
    """Convert dlib's ``.dat`` face ResNet to Keras unless a verified, current copy exists.

    Args:
        force: convert even when ``weights/dlib_face_resnet.keras`` already verifies.

    Returns:
        A one-line report of what was done.
    """
    from utils import dlib_resnet

    if not force:
        try:
            existing = assets.find("dlib_face_resnet_keras")
        except assets.AssetError:
            existing = None  # corrupt: convert again
        if existing is not None and _converted_model_is_current(existing):
            return f"face encoder: {existing} verifies, kept (use --force to convert again)"
    start = time.perf_counter()
    path = dlib_resnet.convert()
    return f"face encoder: converted dlib's model to {path} in {time.perf_counter() - start:.1f} s"


#: The setup steps, in order. Each takes ``force`` and returns a one-line report.
STEPS = (prepare_face_encoder,)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make the project's derived assets (run after pip install).")
    parser.add_argument("--force", action="store_true", help="redo every step even if its output verifies")
    args = parser.parse_args(argv)
    for step in STEPS:
        print(step(force=args.force), flush=True)
    print()
    print(assets.status_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
