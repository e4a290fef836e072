"""One registry and one resolver for every pretrained weight file and data set the course uses.

Every asset is named once in :data:`REGISTRY` with its file name, size, checksum, licence and
canonical source. :func:`resolve` looks for it, in this order:

1. the folder named by the environment variable ``COURSE_ASSETS`` (laid out like ``../shared``:
   ``weights/...`` and ``datasets/...``);
2. ``../shared/`` beside the checkout;
3. the project's own cache, ``weights/`` and ``datasets/`` inside the checkout;
4. asset-specific places that an installed package or Keras itself fills (the
   ``face_recognition_models`` package, Keras' ``~/.keras/models`` cache).

A file is used only after its checksum matches; a folder (a data set) is checked by a digest over
the sorted relative paths and sha256 of all its files. A missing or corrupt asset raises
:class:`AssetError`, whose message names the file, every place that was searched and how to get it.
Nothing is downloaded unless the caller asks for it (``download=True``) *and* the network answers.

Example:
    >>> from utils import assets
    >>> lfw_root = assets.resolve("lfw")                 # doctest: +SKIP
    >>> print(assets.status_table())                    # doctest: +SKIP

Run ``python -m utils.assets`` to print where each asset was found.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Callable, Iterable

from utils import config, files
from utils.errors import AssetError

#: Environment variable naming an extra asset folder searched first.
ASSETS_ENV_VAR = "COURSE_ASSETS"


@dataclasses.dataclass(frozen=True)
class Asset:
    """A registered pretrained weight file or data set.

    Attributes:
        name: registry key, e.g. ``"vgg19_partial"``.
        relpath: path relative to an asset root (``weights/...`` or ``datasets/...``).
        kind: ``"file"`` or ``"tree"`` (a folder whose files are digested together).
        sha256: expected sha256 (of the file, or the tree digest). ``None`` for derived assets.
        md5: expected md5 where the canonical publisher gives only md5 (Keras' VGG19 file).
        size: size in bytes of the file (or of all files of a tree); ``None`` when unknown.
        licence: licence of the content.
        source: where the canonical copy comes from.
        how_to_get: what a user should do when it is missing.
        derived: True for files the project makes itself (checked against a ``.sha256`` sidecar
            written when they are made).
    """

    name: str
    relpath: str
    kind: str
    sha256: str | None
    licence: str
    source: str
    how_to_get: str
    size: int | None = None
    md5: str | None = None
    derived: bool = False
    extra_locations: tuple[Callable[[], Iterable[Path]], ...] = ()

    @property
    def filename(self) -> str:
        return Path(self.relpath).name


def _face_recognition_models_dat() -> Iterable[Path]:
    """Where the PyPI package ``face_recognition_models`` installed the dlib ResNet."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p) / "models" / "dlib_face_recognition_resnet_model_v1.dat"
            for p in spec.submodule_search_locations]


def _keras_cache_vgg19() -> Iterable[Path]:
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return [keras_home / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"]


VGG19_FULL_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

REGISTRY: dict[str, Asset] = {
    asset.name: asset
    for asset in [
        Asset(
            name="vgg19_full",
            relpath=f"weights/vgg19/{VGG19_FULL_FILENAME}",
            kind="file",
            sha256=None,
            md5="253f8cb515780f3b799900260a226db6",
            licence="CC BY 4.0 (Simonyan & Zisserman, VGG ImageNet weights)",
            source="keras.applications.VGG19(weights='imagenet', include_top=False) download "
            "(keras.applications.vgg19.WEIGHTS_PATH_NO_TOP)",
            how_to_get="on a machine with internet run `python -m utils.assets --download vgg19_full` "
            "(Keras downloads it into ~/.keras/models), or copy the file into weights/vgg19/",
            extra_locations=(_keras_cache_vgg19,),
        ),
        Asset(
            name="vgg19_partial",
            relpath="weights/vgg19/vgg19_imagenet_notop_block1-3_PARTIAL.h5",
            kind="file",
            sha256="528ca5245131be9ff7e225567d83c0c8d4409dc5117e8fc01010b8515d2a81c5",
            size=9_330_600,
            licence="CC BY 4.0 (Simonyan & Zisserman, VGG ImageNet weights)",
            source="the first 8 conv layers (block1_conv1..block3_conv4) of the Keras VGG19 "
            "ImageNet no-top file, legacy HDF5 layout",
            how_to_get="it ships in ../shared/weights/vgg19/ beside the checkout; elsewhere extract "
            "block1-3 from the full Keras file, or use the full file (asset 'vgg19_full')",
        ),
        Asset(
            name="dlib_face_resnet_dat",
            relpath="weights/dlib/dlib_face_recognition_resnet_model_v1.dat",
            kind="file",
            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            size=22_466_066,
            licence="public domain / CC0 (Davis King, dlib)",
            source="PyPI package face_recognition_models==0.3.0, "
            "models/dlib_face_recognition_resnet_model_v1.dat",
            how_to_get="run `make setup` (it pip-installs face_recognition_models==0.3.0)",
            extra_locations=(_face_recognition_models_dat,),
        ),
        Asset(
            name="dlib_face_resnet_keras",
            relpath="weights/dlib_face_resnet.keras",
            kind="file",
            sha256=None,
            derived=True,
            licence="public domain / CC0 (converted from dlib's model by utils.dlib_resnet)",
            source="made by `python -m utils.prepare` from asset 'dlib_face_resnet_dat'",
            how_to_get="run `make setup` (or `python -m utils.prepare`) to convert dlib's model",
        ),
        Asset(
            name="lfw",
            relpath="datasets/lfw",
            kind="tree",
            sha256="3c12eaa9d982c265427977109e600e9394c5f0aee5f450baa9b15df74779f672",
            size=14_095_573,
            licence="research use (Labeled Faces in the Wild, UMass Amherst)",
            source="LFW deep-funneled images and View 2 pairs.txt, folds 1-2",
            how_to_get="it ships in ../shared/datasets/lfw; elsewhere download lfw-deepfunneled and "
            "pairs.txt from the LFW site and lay them out as images/<Name>/<Name>_NNNN.jpg",
        ),
        Asset(
            name="faces_demo",
            relpath="datasets/faces-demo",
            kind="tree",
            sha256="bd58dbef1c21a1a5a5bf2cce74902dcc4c80e602b674c5d91a8a712d0710e7b1",
            size=3_944_858,
            licence="course images (deeplearning.ai), LFW (research use), face_recognition examples (MIT)",
            source="see ../shared/README.md: course/, lfw/ and ageitgey/ galleries with manifests",
            how_to_get="it ships in ../shared/datasets/faces-demo beside the checkout",
        ),
        Asset(
            name="nst_images",
            relpath="datasets/nst",
            kind="tree",
            sha256="c0249f0ddba475d8cf407bb39abfaa41718d54eee4c8230a78ee1b6872a7215c",
            size=3_388_551,
            licence="public-domain paintings and photos; see datasets/nst/SOURCES.md",
            source="see SOURCES.md in the folder",
            how_to_get="it ships in ../shared/datasets/nst beside the checkout",
        ),
    ]
}


def search_roots() -> list[Path]:
    """Asset roots in lookup order: ``$COURSE_ASSETS``, ``../shared``, the checkout itself."""
    roots = []
    env = os.environ.get(ASSETS_ENV_VAR)
    if env:
        roots.append(Path(env).expanduser())
    roots.append(config.REPO_ROOT.parent / "shared")
    roots.append(config.REPO_ROOT)
    return roots


def candidates(name: str) -> list[Path]:
    """Every path where asset ``name`` may be, in lookup order."""
    asset = get(name)
    paths = [root / asset.relpath for root in search_roots()]
    for extra in asset.extra_locations:
        paths.extend(extra())
    return paths


def get(name: str) -> Asset:
    """Return the registry entry for ``name`` (ValueError listing the known names otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown asset {name!r}; known assets: {', '.join(sorted(REGISTRY))}") from None


def _hash_file(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_digest(root: Path) -> tuple[str, int]:
    """Digest of a folder: sha256 over ``relpath NUL sha256(file) LF`` for its files, sorted.

    Returns:
        ``(hex digest, total size in bytes)``.
    """
    root = Path(root)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    total = 0
    for rel in files:
        path = root / rel
        digest.update(f"{rel}\0{_hash_file(path)}\n".encode())
        total += path.stat().st_size
    return digest.hexdigest(), total


def sidecar_path(path: Path) -> Path:
    """The ``.sha256`` file written beside a derived asset when it is made."""
    return Path(str(path) + ".sha256")


def write_sidecar(path: Path, **provenance) -> str:
    """Record the sha256 of a file the project made (and where it came from) beside it."""
    path = Path(path)
    sha = _hash_file(path)
    record = {"sha256": sha, "size": path.stat().st_size, **provenance}
    files.write_text(sidecar_path(path), json.dumps(record, indent=2) + "\n")
    return sha


_VERIFIED: dict[tuple[str, float, int], str] = {}


def _stamp(path: Path) -> tuple[str, float, int]:
    if path.is_dir():
        stats = [p.stat() for p in path.rglob("*") if p.is_file()]
        return (str(path), max((s.st_mtime for s in stats), default=0.0), sum(s.st_size for s in stats))
    stat = path.stat()
    return (str(path), stat.st_mtime, stat.st_size)


def verify(asset: Asset, path: Path) -> None:
    """Raise :class:`AssetError` unless ``path`` holds exactly ``asset`` (results cached per mtime)."""
    path = Path(path)
    key = _stamp(path)
    if _VERIFIED.get(key) == asset.name:
        return
    if asset.kind == "tree":
        if not path.is_dir():
            raise AssetError(f"asset {asset.name!r}: {path} is not a folder")
        actual, size = tree_digest(path)
        expected = asset.sha256
        what = "tree digest"
    else:
        if not path.is_file():
            raise AssetError(f"asset {asset.name!r}: {path} is not a file")
        size = path.stat().st_size
        if asset.derived:
            sidecar = sidecar_path(path)
            if not sidecar.is_file():
                raise AssetError(f"asset {asset.name!r}: {path} has no checksum file {sidecar.name}; "
                                 f"{asset.how_to_get}")
            expected = json.loads(sidecar.read_text())["sha256"]
            actual, what = _hash_file(path), "sha256"
        elif asset.sha256:
            expected, actual, what = asset.sha256, _hash_file(path), "sha256"
        else:
            expected, actual, what = asset.md5, _hash_file(path, "md5"), "md5"
    if asset.size is not None and size != asset.size:
        raise AssetError(f"asset {asset.name!r} at {path} has {size:,} bytes, expected {asset.size:,}: "
                         f"the copy is incomplete or a different file. {asset.how_to_get}")
    if actual != expected:
        raise AssetError(f"asset {asset.name!r} at {path} is corrupt or a different version: {what} "
                         f"{actual} != expected {expected}. {asset.how_to_get}")
    _VERIFIED[key] = asset.name


def find(name: str) -> Path | None:
    """Like :func:`resolve` but return ``None`` when the asset is absent (corrupt still raises)."""
    try:
        return resolve(name)
    except AssetError as error:
        if getattr(error, "missing", False):
            return None
        raise


def network_reachable(host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0) -> bool:
    """Return True when a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _download(asset: Asset) -> Path | None:
    """Canonical download, used only when asked and only when the network answers."""
    if asset.name != "vgg19_full" or not network_reachable():
        return None
    import keras

    path = keras.utils.get_file(VGG19_FULL_FILENAME, keras.applications.vgg19.WEIGHTS_PATH_NO_TOP,
                                cache_subdir="models", file_hash=asset.md5)
    return Path(path)


def resolve(name: str, download: bool = False) -> Path:
    """Find asset ``name``, verify its checksum and return its path.

    Args:
        name: a key of :data:`REGISTRY`.
        download: allow the canonical download (only Keras' VGG19 file has one) when the asset is
            found nowhere and the network is reachable.

    Returns:
        Path to the verified file or folder.

    Raises:
        AssetError: missing (``error.missing`` is True) or failing its checksum. The message names
            the file, every place searched and how to obtain it.
        ValueError: ``name`` is not registered.
    """
    asset = get(name)
    searched = candidates(name)
    corrupt: list[str] = []
    for path in searched:
        if not path.exists():
            continue
        try:
            verify(asset, path)
            return path
        except AssetError as error:
            corrupt.append(str(error))
    if download and not corrupt:
        path = _download(asset)
        if path is not None:
            verify(asset, path)
            return path
    if corrupt:
        raise AssetError("\n".join(corrupt))
    places = "\n  ".join(str(p) for p in searched)
    raise AssetError(f"asset {name!r} ({asset.filename}) was not found. Looked in:\n  {places}\n"
                     f"How to get it: {asset.how_to_get}\nSource: {asset.source}; licence: {asset.licence}",
                     missing=True)


def status_table() -> str:
    """One line per registered asset: found where, or missing/corrupt and why."""
    lines = []
    for name in REGISTRY:
        try:
            where = str(resolve(name))
            state = "ok"
        except AssetError as error:
            state = "MISSING" if getattr(error, "missing", False) else "CORRUPT"
            where = str(error).splitlines()[0]
        lines.append(f"{name:24s} {state:8s} {where}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Show where each course asset is and verify it.")
    parser.add_argument("--download", metavar="NAME", help="download NAME from its canonical source "
                        "when the network is reachable (only vgg19_full has one)")
    args = parser.parse_args(argv)
    if args.download:
        print(resolve(args.download, download=True))
        return 0
    print(status_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
