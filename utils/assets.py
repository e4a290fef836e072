"""One registry and one resolver for every pretrained weight file and data set the course uses.

Every asset is named once in :data:`REGISTRY`: where it lives (``weights/...`` or
``datasets/...``), its size and checksum, its licence, its canonical source and whether it may be
committed to the repository. A data set (a folder) also has a per-file manifest in
``utils/asset_registry/<name>.csv[.gz]``: ``relpath,size,sha256,origin`` for each of its files, where
``origin`` is the commit-pinned ``raw.githubusercontent.com`` URL of the git blob it is a copy of,
``package:<path>`` for the few text files the project wrote itself (shipped with the package in
``utils/asset_registry/files/``) or ``derive:<recipe>`` for a file computed from another pinned
file (the folds 1-2 ``pairs.txt``/``pairs.csv`` of LFW's development set). The manifests were
generated from the verified ``../shared`` copies and checked blob by blob against the pinned
commits (``tools/build_asset_registry.py``; ``utils/asset_registry/README.md``).

**Finding an asset** (:func:`resolve`, :func:`find`) looks, in this order, in

1. the folder named by ``$COURSE_ASSETS`` (laid out like ``../shared``: ``weights/...``,
   ``datasets/...``; made by ``python -m utils.assets mirror DIR``);
2. ``../shared/`` beside the checkout (``$COURSE_SHARED`` names another folder; set it to an empty
   string to leave it out);
3. the checkout's own cache, ``weights/`` and ``datasets/`` (``$COURSE_ASSETS_CACHE`` moves it);
4. places an installed package or Keras fills (``face_recognition_models``, ``~/.keras/models``).

A file is used only after its checksum matches (sha256; md5 for Keras' VGG19 file, the only
checksum Keras publishes for it); a folder only when every file of its manifest is there with its
size and sha256 (hidden files such as ``.DS_Store`` are ignored). Nothing touches the network
then: a mirror that holds an asset answers for it.

**Getting a missing asset** happens only when asked — :func:`ensure` (what ``make setup`` runs),
:func:`fetch`, ``resolve(name, download=True)`` or the command line. Each file comes from the
first of: a verified copy already on this machine (any mirror, any asset holding the same bytes),
the package, a recipe, and last the canonical URL, into the checkout's cache. Downloads use
`pooch <https://www.fatiando.org/pooch>`_ rather than ``keras.utils.get_file``: pooch checks a
sha256 (or md5) given up front and deletes a download that does not match, writes to a temporary
file and moves it into place only once verified, retries a failed transfer, shows a progress bar
and has processors for unpacking archives; it is what SciPy and scikit-image use for their data.
``keras.utils.get_file`` (Keras 3.15) writes straight to the destination, leaves a file that fails
its checksum in place, has no retries and needs Keras imported to fetch a JPEG. With pooch, a
failed or corrupt download leaves no file behind
and raises :class:`AssetError` naming the URL and how to use a mirror instead. Files of a folder
are placed one by one, each atomically and verified, so an interrupted ``fetch`` resumes where it
stopped.

``$COURSE_ASSETS_URL`` (or the ``base_url`` argument of :func:`download_url`) replaces the
scheme and host of every canonical URL, keeping the host as the first path component:
``https://raw.githubusercontent.com/a/b/c.jpg`` becomes ``$COURSE_ASSETS_URL/raw.githubusercontent.com/a/b/c.jpg``
(the layout ``wget -x`` writes), for the tests' loopback server or a local HTTP mirror.

**Committing data.** No data set or weight file is committed to the repository (see each entry's
``commit_decision``): the course photos carry no licence, LFW is for research use, the
face_recognition example photos show public figures with unclear rights, and some NST images are
of unknown origin; the public-domain paintings alone would not save a download. Only the
project's own small text files (manifests, ``SOURCES.md``) ship in the package.

Command line::

    python -m utils.assets                  # where each asset is, verified (no network)
    python -m utils.assets fetch [NAME ...] # get what is missing (mirror first, else download)
    python -m utils.assets mirror DIR [NAME ...]   # copy or fetch every asset into DIR, verified

Example:
    >>> from utils import assets
    >>> assets.get("nst_images").relpath
    'datasets/nst'
    >>> [entry.relpath for entry in assets.manifest("nst_images")][:2]
    ['SOURCES.md', 'content/girl_with_pearl_earring.jpg']
    >>> assets.resolve("lfw")                            # doctest: +SKIP
    PosixPath('/work/shared/datasets/lfw')
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import functools
import gzip
import hashlib
import importlib.util
import io
import json
import os
import shutil
import socket
import threading
from pathlib import Path
from typing import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from utils import config, files
from utils.errors import AssetError, UsageError, report

#: Environment variable naming an extra asset folder searched first (laid out like ``../shared``).
ASSETS_ENV_VAR = "COURSE_ASSETS"
#: Environment variable naming the ``../shared`` folder; an empty value leaves it out.
SHARED_ENV_VAR = "COURSE_SHARED"
#: Environment variable naming the folder fetched assets go to (default: the checkout).
CACHE_ENV_VAR = "COURSE_ASSETS_CACHE"
#: Environment variable replacing the scheme and host of every canonical URL (tests, HTTP mirrors).
URL_ENV_VAR = "COURSE_ASSETS_URL"

#: Folder of the per-file manifests and of the package's own data files.
REGISTRY_DIR = Path(__file__).resolve().with_name("asset_registry")

#: Extra attempts after a failed or corrupt transfer of one file (pooch waits 1 s, 2 s, ...).
DOWNLOAD_RETRIES = 2
#: Seconds to wait for a connection and for each read.
DOWNLOAD_TIMEOUT = (10, 60)
#: Files of one folder downloaded at once.
DOWNLOAD_WORKERS = 8
#: Where downloads wait for their checksum, relative to the folder being filled (emptied after).
STAGING_RELPATH = "datasets/.downloads"

GITHUB_RAW = "https://raw.githubusercontent.com"
LFW_REPOSITORY = "umass-vis-lfw/umass-vis-lfw.github.io"
LFW_COMMIT = "2a620cd8cceb10430f8c7012fe9fa5f0837759e9"
#: The official 10-fold View 2 ``pairs.txt`` at the pinned commit of the LFW site.
LFW_PAIRS_URL = f"{GITHUB_RAW}/{LFW_REPOSITORY}/{LFW_COMMIT}/pairs.txt"
LFW_PAIRS_SHA256 = "ea42330c62c92989f9d7c03237ed5d591365e89b3e649747777b70e692dc1592"

VGG19_FULL_FILENAME = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
#: ``keras.applications.vgg19.WEIGHTS_PATH_NO_TOP`` and the same file's older home (Keras 2.0).
VGG19_FULL_URLS = (
    f"https://storage.googleapis.com/tensorflow/keras-applications/vgg19/{VGG19_FULL_FILENAME}",
    f"https://github.com/fchollet/deep-learning-models/releases/download/v0.1/{VGG19_FULL_FILENAME}",
)
DLIB_DAT_URL = (f"{GITHUB_RAW}/ageitgey/face_recognition_models/e67de717267507d1e9246de95692eb8be736ab61/"
                "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat")

_MIRROR_HINT = ("To work offline instead, copy a mirror folder made with `python -m utils.assets mirror DIR` "
                "on a connected machine and set COURSE_ASSETS=DIR (or place it beside the checkout as "
                "../shared).")


@dataclasses.dataclass(frozen=True)
class ManifestEntry:
    """One file of a data-set asset.

    Attributes:
        relpath: path inside the asset's folder, with ``/``.
        size: size in bytes.
        sha256: sha256 of the content.
        origin: a commit-pinned URL, ``package:<path under utils/asset_registry/files>`` or
            ``derive:<recipe>``.
    """

    relpath: str
    size: int
    sha256: str
    origin: str


@dataclasses.dataclass(frozen=True)
class Asset:
    """A registered pretrained weight file or data set.

    Attributes:
        name: registry key, e.g. ``"vgg19_partial"``.
        relpath: path relative to an asset root (``weights/...`` or ``datasets/...``).
        kind: ``"file"`` or ``"tree"`` (a folder whose files are verified together).
        sha256: sha256 of the file, or the tree digest of the folder (:func:`tree_digest`).
            ``None`` for derived assets and where the publisher gives only md5.
        licence: licence or terms of the content.
        source: where the canonical copy comes from, in words.
        how_to_get: what a user should do when it is missing.
        size: size in bytes of the file (or of all files of a tree); ``None`` when unknown.
        md5: expected md5 where the canonical publisher gives only md5 (Keras' VGG19 file).
        derived: True for files the project makes itself (checked against a ``.sha256`` sidecar
            written when they are made; never fetched).
        extra_locations: callables returning more places to look (package folders, Keras' cache).
        urls: canonical download URL(s) of a file asset, tried in order.
        manifest: per-file manifest of a tree asset: a file name in ``utils/asset_registry/``
            (``.csv`` or ``.csv.gz``) or a path.
        default: fetched and mirrored when no names are given (False: only on request).
        may_commit: whether the content may be committed to the repository.
        commit_decision: why (or why not), from the licence.
        replaced_by: another asset that makes this one unnecessary when present.
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
    urls: tuple[str, ...] = ()
    manifest: str | os.PathLike | None = None
    default: bool = True
    may_commit: bool = False
    commit_decision: str = ""
    replaced_by: str | None = None

    @property
    def filename(self) -> str:
        """The last component of :attr:`relpath`."""
        return Path(self.relpath).name

    @property
    def fetchable(self) -> bool:
        """Whether the asset can be downloaded (it has URLs or a manifest)."""
        return bool(self.urls or self.manifest)


def _face_recognition_models_dat() -> Iterable[Path]:
    """Where the PyPI package ``face_recognition_models`` installed the dlib ResNet."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(p) / "models" / "dlib_face_recognition_resnet_model_v1.dat"
            for p in spec.submodule_search_locations]


def _keras_cache_vgg19() -> Iterable[Path]:
    """Where ``keras.applications.VGG19(weights="imagenet")`` keeps its download."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return [keras_home / "models" / VGG19_FULL_FILENAME]


_FETCH_HINT = ("run `python -m utils.assets fetch {name}` (or `make setup`) on a connected machine, "
               "or set COURSE_ASSETS to a mirror folder made with `python -m utils.assets mirror DIR`")

REGISTRY: dict[str, Asset] = {
    asset.name: asset
    for asset in [
        Asset(
            name="vgg19_full",
            relpath=f"weights/vgg19/{VGG19_FULL_FILENAME}",
            kind="file",
            sha256=None,
            md5="253f8cb515780f3b799900260a226db6",
            size=80_134_624,
            licence="CC BY 4.0 (Simonyan & Zisserman, VGG ImageNet weights)",
            source="Keras' VGG19 ImageNet no-top file (keras.applications.vgg19.WEIGHTS_PATH_NO_TOP)",
            how_to_get="run `python -m utils.assets fetch vgg19_full` on a connected machine (80 MB, "
            "verified by Keras' md5), or copy the file into weights/vgg19/ of a COURSE_ASSETS mirror",
            urls=VGG19_FULL_URLS,
            extra_locations=(_keras_cache_vgg19,),
            commit_decision="never committed: 80 MB; downloaded from Keras' URL or mirrored",
        ),
        Asset(
            name="vgg19_partial",
            relpath="weights/vgg19/vgg19_imagenet_notop_block1-3_PARTIAL.h5",
            kind="file",
            sha256="528ca5245131be9ff7e225567d83c0c8d4409dc5117e8fc01010b8515d2a81c5",
            size=9_330_600,
            licence="CC BY 4.0 (Simonyan & Zisserman, VGG ImageNet weights)",
            source="blocks 1-3 (block1_conv1..block3_conv4) of the ImageNet VGG19, converted to the "
            "legacy Keras HDF5 layout from the TF.js shards group1-8 of "
            "github.com/ViktorSvensson/vgg19-tfjs @ ba87e05d3b41366301d34723d5947df1ba31587d",
            how_to_get="it has no public download (the project made it once); it ships in mirrors "
            "(../shared or COURSE_ASSETS). The full file (asset 'vgg19_full', `python -m utils.assets "
            "fetch vgg19_full`) holds all its layers and replaces it",
            replaced_by="vgg19_full",
            commit_decision="never committed: 9 MB of weights; mirror only (no byte-identical public origin)",
        ),
        Asset(
            name="dlib_face_resnet_dat",
            relpath="weights/dlib/dlib_face_recognition_resnet_model_v1.dat",
            kind="file",
            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            size=22_466_066,
            licence="public domain / CC0 (Davis King, dlib)",
            source="PyPI package face_recognition_models==0.3.0 (a requirement), "
            "models/dlib_face_recognition_resnet_model_v1.dat; the same blob is in "
            "ageitgey/face_recognition_models @ e67de717267507d1e9246de95692eb8be736ab61",
            how_to_get="run `make setup` (it pip-installs face_recognition_models==0.3.0), or "
            "`python -m utils.assets fetch dlib_face_resnet_dat`",
            urls=(DLIB_DAT_URL,),
            extra_locations=(_face_recognition_models_dat,),
            commit_decision="never committed: 22 MB; installed from PyPI (CC0, so a mirror may carry it)",
        ),
        Asset(
            name="dlib_face_resnet_keras",
            relpath="weights/dlib_face_resnet.keras",
            kind="file",
            sha256=None,
            derived=True,
            licence="public domain / CC0 (converted from dlib's model by the project)",
            source="made by `make setup` (`python -m utils.course.prepare`) from asset 'dlib_face_resnet_dat'",
            how_to_get="run `make setup` (or `python -m utils.course.prepare`) to convert dlib's model",
            commit_decision="never committed: made on each machine by `make setup`",
        ),
        Asset(
            name="lfw",
            relpath="datasets/lfw",
            kind="tree",
            sha256="3c12eaa9d982c265427977109e600e9394c5f0aee5f450baa9b15df74779f672",
            size=14_095_573,
            licence="research use (Labeled Faces in the Wild, UMass Amherst; cite Huang et al. 2007)",
            source=f"LFW View 2 folds 1-2: deep-funneled images and README.txt of {LFW_REPOSITORY} "
            f"@ {LFW_COMMIT}; pairs.txt/pairs.csv derived from its official pairs.txt",
            how_to_get=_FETCH_HINT.format(name="lfw"),
            manifest="lfw.csv.gz",
            commit_decision="never committed: LFW is licensed for research use only and is 14 MB; "
            "fetched from the LFW site's repository or mirrored",
        ),
        Asset(
            name="lfw_full",
            relpath="datasets/lfw-full",
            kind="tree",
            sha256="2b9be292bedd01426866324af343539fa91c267dfbedd870717e985ae473a895",
            size=68_236_684,
            licence="research use (Labeled Faces in the Wild, UMass Amherst; cite Huang et al. 2007)",
            source=f"the full LFW View 2 benchmark: the official 10-fold pairs.txt and the 7,701 "
            f"deep-funneled images its 6,000 pairs use, from {LFW_REPOSITORY} @ {LFW_COMMIT}. Every "
            f"file is pinned: pairs.txt by its known sha256 {LFW_PAIRS_SHA256}, each image by the size "
            f"and sha256 of its blob at that commit (read from the repository itself; the 1,583 images "
            f"the development set shares with it were identical). Never needed by the tests or CI",
            how_to_get="optional (68 MB, 7,703 files): run `python -m utils.assets fetch lfw_full` on a "
            "connected machine, or `python -m utils.assets mirror DIR lfw_full` for a mirror",
            manifest="lfw_full.csv.gz",
            default=False,
            commit_decision="never committed: research use only, 68 MB",
        ),
        Asset(
            name="faces_demo",
            relpath="datasets/faces-demo",
            kind="tree",
            sha256="bd58dbef1c21a1a5a5bf2cce74902dcc4c80e602b674c5d91a8a712d0710e7b1",
            size=3_944_858,
            licence="course/: deeplearning.ai course images, no licence; lfw/: LFW, research use; "
            "ageitgey/: face_recognition example photos (code MIT, photo rights unclear); "
            "manifest.csv files: the project's own (MIT)",
            source="course/ from amanchadha/coursera-deep-learning-specialization @ e9de0f4d; lfw/ "
            f"from {LFW_REPOSITORY} @ {LFW_COMMIT[:8]}; ageitgey/ from ageitgey/face_recognition "
            "@ 2e2dccea (examples/knn_examples); see utils/asset_registry/faces_demo.csv",
            how_to_get=_FETCH_HINT.format(name="faces_demo"),
            manifest="faces_demo.csv",
            commit_decision="never committed: the course photos carry no licence, LFW is research use "
            "and the example photos' rights are unclear; fetched from the pinned commits or mirrored "
            "(only the project's manifest.csv files ship in the package)",
        ),
        Asset(
            name="nst_images",
            relpath="datasets/nst",
            kind="tree",
            sha256="c0249f0ddba475d8cf407bb39abfaa41718d54eee4c8230a78ee1b6872a7215c",
            size=3_388_551,
            licence="paintings: public domain; photos and textures: unknown or course material "
            "(see SOURCES.md in the folder)",
            source="git blobs of jcjohnson/neural-style, amanchadha/coursera-deep-learning-specialization, "
            "lengstrom/fast-style-transfer, sbrml/style-transfer and titu1994/Neural-Style-Transfer at "
            "pinned commits (SOURCES.md; utils/asset_registry/nst_images.csv)",
            how_to_get=_FETCH_HINT.format(name="nst_images"),
            manifest="nst_images.csv",
            commit_decision="never committed: the paintings are public domain, but the content photos "
            "and textures are of unknown licence and fast-style-transfer's repository carries a "
            "research-only notice; all 18 images are fetched from the pinned commits or mirrored "
            "(only the project's SOURCES.md ships in the package)",
        ),
    ]
}


# --------------------------------------------------------------------------------------------
# Where assets are looked for
# --------------------------------------------------------------------------------------------

def shared_root() -> Path | None:
    """The ``../shared`` mirror beside the checkout (``$COURSE_SHARED``; None when set empty).

    Example:
        >>> import os
        >>> os.environ.get("COURSE_SHARED") is not None or shared_root().name == "shared"
        True
    """
    value = os.environ.get(SHARED_ENV_VAR)
    if value is None:
        return config.REPO_ROOT.parent / "shared"
    return Path(value).expanduser() if value else None


def cache_root() -> Path:
    """The folder that fetched assets go to: the checkout itself unless ``$COURSE_ASSETS_CACHE`` is set."""
    value = os.environ.get(CACHE_ENV_VAR)
    return Path(value).expanduser() if value else config.REPO_ROOT


def search_roots() -> list[Path]:
    """Asset roots in lookup order: ``$COURSE_ASSETS``, ``../shared``, the checkout's cache."""
    roots = []
    env = os.environ.get(ASSETS_ENV_VAR)
    if env:
        roots.append(Path(env).expanduser())
    shared = shared_root()
    if shared is not None:
        roots.append(shared)
    roots.append(cache_root())
    return roots


def get(name: str) -> Asset:
    """Return the registry entry for ``name``.

    Raises:
        ValueError: ``name`` is not registered (the message lists the known names).

    Example:
        >>> get("vgg19_full").md5
        '253f8cb515780f3b799900260a226db6'
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown asset {name!r}; known assets: {', '.join(sorted(REGISTRY))}") from None


def candidates(name: str) -> list[Path]:
    """Every path where asset ``name`` may be, in lookup order."""
    asset = get(name)
    paths = [root / asset.relpath for root in search_roots()]
    for extra in asset.extra_locations:
        paths.extend(extra())
    return paths


# --------------------------------------------------------------------------------------------
# Checksums and manifests
# --------------------------------------------------------------------------------------------

def _hash_file(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_digest(root: Path) -> tuple[str, int]:
    """Digest of a folder: sha256 over ``relpath NUL sha256(file) LF`` for all its files, sorted.

    Returns:
        ``(hex digest, total size in bytes)``.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.txt").write_bytes(b"A")
        >>> digest, size = tree_digest(folder)
        >>> size, len(digest)
        (1, 64)
    """
    root = Path(root)
    relpaths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    total = 0
    for rel in relpaths:
        path = root / rel
        digest.update(f"{rel}\0{_hash_file(path)}\n".encode())
        total += path.stat().st_size
    return digest.hexdigest(), total


def manifest_digest(entries: Sequence[ManifestEntry]) -> str:
    """The :func:`tree_digest` of a folder holding exactly ``entries``.

    Example:
        >>> entry = ManifestEntry("a.txt", 1, hashlib.sha256(b"A").hexdigest(), "package:a.txt")
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.txt").write_bytes(b"A")
        >>> manifest_digest([entry]) == tree_digest(folder)[0]
        True
    """
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda item: item.relpath):
        digest.update(f"{entry.relpath}\0{entry.sha256}\n".encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=None)
def _read_manifest(path: str) -> tuple[ManifestEntry, ...]:
    data = Path(path).read_bytes()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    rows = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return tuple(ManifestEntry(row["relpath"], int(row["size"]), row["sha256"], row["origin"]) for row in rows)


def manifest(name: str | Asset) -> tuple[ManifestEntry, ...]:
    """The per-file manifest of a tree asset (empty for files and for trees without one).

    Args:
        name: an asset name or :class:`Asset`.

    Returns:
        The entries, sorted by ``relpath``.

    Example:
        >>> entries = manifest("lfw")
        >>> len(entries), entries[0].relpath
        (1586, 'LFW_README.txt')
    """
    asset = get(name) if isinstance(name, str) else name
    if asset.manifest is None:
        return ()
    path = Path(asset.manifest)
    if not path.is_absolute():
        path = REGISTRY_DIR / path
    return _read_manifest(str(path))


def sidecar_path(path: Path) -> Path:
    """The ``.sha256`` file written beside a derived asset when it is made."""
    return Path(str(path) + ".sha256")


def write_sidecar(path: Path, **provenance) -> str:
    """Record the sha256 of a file the project made (and where it came from) beside it.

    Args:
        path: the file just made.
        **provenance: JSON-serialisable facts to keep with the checksum.

    Returns:
        The sha256 of the file.

    Example:
        >>> import tempfile, pathlib
        >>> made = pathlib.Path(tempfile.mkdtemp()) / "model.bin"
        >>> _ = made.write_bytes(b"converted")
        >>> write_sidecar(made, converter="doctest")[:12]
        'ba451247dcf0'
    """
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


def _visible_files(root: Path) -> dict[str, Path]:
    """Files under ``root`` by relative path, leaving out hidden ones (``.DS_Store``, temporaries)."""
    found = {}
    for path in root.rglob("*"):
        relpath = path.relative_to(root).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in relpath.split("/")):
            found[relpath] = path
    return found


def _examples(items: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (", ..." if len(items) > limit else "")


def _verify_tree_by_manifest(asset: Asset, path: Path, entries: Sequence[ManifestEntry]) -> None:
    present = _visible_files(path)
    missing = [entry.relpath for entry in entries if entry.relpath not in present]
    listed = {entry.relpath for entry in entries}
    unexpected = sorted(relpath for relpath in present if relpath not in listed)
    wrong = []
    for entry in entries:
        file = present.get(entry.relpath)
        if file is None:
            continue
        if file.stat().st_size != entry.size or _hash_file(file) != entry.sha256:
            wrong.append(entry.relpath)
    if wrong:
        raise AssetError(f"asset {asset.name!r} at {path} is corrupt or a different version: {len(wrong)} "
                         f"file(s) differ from the registry ({_examples(wrong)}). {asset.how_to_get}")
    if missing:
        raise AssetError(f"asset {asset.name!r} at {path} is incomplete: {len(missing):,} of {len(entries):,} "
                         f"files are missing ({_examples(missing)}). Run `python -m utils.assets fetch "
                         f"{asset.name}` to complete it, or {asset.how_to_get}")
    if unexpected:
        raise AssetError(f"asset {asset.name!r} at {path} holds {len(unexpected)} file(s) the registry "
                         f"does not list ({_examples(unexpected)}); remove them")


def verify(asset: Asset, path: Path) -> None:
    """Raise :class:`AssetError` unless ``path`` holds exactly ``asset`` (results cached per mtime).

    Args:
        asset: the registry entry.
        path: a file (``kind="file"``) or folder (``kind="tree"``).

    Raises:
        AssetError: wrong kind, size or checksum; missing, changed or unexpected files of a folder.
            The message names the path and says how to get a good copy.
    """
    path = Path(path)
    key = _stamp(path)
    if _VERIFIED.get(key) == asset.name:
        return
    if asset.kind == "tree":
        if not path.is_dir():
            raise AssetError(f"asset {asset.name!r}: {path} is not a folder")
        entries = manifest(asset)
        if entries:
            _verify_tree_by_manifest(asset, path, entries)
            _VERIFIED[key] = asset.name
            return
        actual, size = tree_digest(path)
        expected, what = asset.sha256, "tree digest"
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


# --------------------------------------------------------------------------------------------
# Resolving
# --------------------------------------------------------------------------------------------

def _search(asset: Asset) -> tuple[Path | None, list[str], list[Path]]:
    """``(first verified path or None, errors of corrupt copies, every path searched)``."""
    searched = candidates(asset.name)
    corrupt: list[str] = []
    for path in searched:
        if not path.exists():
            continue
        try:
            verify(asset, path)
            return path, corrupt, searched
        except AssetError as error:
            corrupt.append(str(error))
    return None, corrupt, searched


def _missing_error(asset: Asset, searched: Sequence[Path]) -> AssetError:
    places = "\n  ".join(str(p) for p in searched)
    return AssetError(f"asset {asset.name!r} ({asset.filename}) was not found. Looked in:\n  {places}\n"
                      f"How to get it: {asset.how_to_get}\nSource: {asset.source}; licence: {asset.licence}",
                      missing=True)


def resolve(name: str, download: bool = False, progress: bool = False) -> Path:
    """Find asset ``name``, verify its checksum and return its path.

    Args:
        name: a key of :data:`REGISTRY`.
        download: when no verified copy is found, get it (:func:`fetch`: copies on this machine
            first, else the canonical URLs) into the checkout's cache.
        progress: show progress bars while downloading.

    Returns:
        Path to the verified file or folder.

    Raises:
        AssetError: missing (``error.missing`` is True), failing its checksum, or a download that
            failed. The message names the file, every place searched and how to obtain it.
        ValueError: ``name`` is not registered.

    Example:
        >>> resolve("nst_images")                     # doctest: +SKIP
        PosixPath('/work/shared/datasets/nst')
    """
    asset = get(name)
    path, corrupt, searched = _search(asset)
    if path is not None:
        return path
    if download and asset.fetchable:
        return fetch(name, progress=progress)
    if corrupt:
        raise AssetError("\n".join(corrupt))
    raise _missing_error(asset, searched)


def find(name: str) -> Path | None:
    """Like :func:`resolve` but return ``None`` when the asset is absent (a corrupt copy still raises).

    Example:
        >>> find("vgg19_full") is None or find("vgg19_full").name.endswith(".h5")
        True
    """
    try:
        return resolve(name)
    except AssetError as error:
        if getattr(error, "missing", False):
            return None
        raise


# --------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------

def download_url(url: str, base_url: str | None = None) -> str:
    """The URL actually requested for canonical ``url``: ``base_url`` (or ``$COURSE_ASSETS_URL``) + host + path.

    Args:
        url: a canonical URL of the registry.
        base_url: replaces the scheme and host; the canonical host becomes the first path
            component. Default: ``$COURSE_ASSETS_URL``; neither set: ``url`` unchanged.

    Returns:
        The URL to request.

    Example:
        >>> download_url("https://raw.githubusercontent.com/o/r/c/a%20b.jpg", "http://127.0.0.1:8000/")
        'http://127.0.0.1:8000/raw.githubusercontent.com/o/r/c/a%20b.jpg'
    """
    base = base_url if base_url is not None else os.environ.get(URL_ENV_VAR, "")
    if not base:
        return url
    parts = urlsplit(url)
    return f"{base.rstrip('/')}/{parts.netloc}{parts.path}"


def network_reachable(host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0) -> bool:
    """Return True when a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _proxy_configured() -> bool:
    return any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                                                 "ALL_PROXY", "all_proxy"))


def _connect_problem(url: str) -> str | None:
    """Why ``url``'s host cannot be reached (a 3-second TCP probe), or None.

    The probe turns "no network" into one clear line in seconds instead of a long series of
    timed-out retries. It is skipped behind a proxy, where only the proxy knows.
    """
    if _proxy_configured():
        return None
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=3.0):
            return None
    except OSError as error:
        return f"cannot connect to {parts.hostname}:{port} ({error}; offline?)"


def _holds(path: Path, size: int | None, algorithm: str, expected: str) -> bool:
    """Whether ``path`` is a file of ``size`` bytes (when known) whose hash is ``expected``."""
    if not path.is_file() or (size is not None and path.stat().st_size != size):
        return False
    return _hash_file(path, algorithm) == expected


class _Filler:
    """Puts the files of one asset under one root, each verified before it is used.

    A file comes from the first source that has it: a verified copy on this machine (any search
    root, any asset with the same bytes), the package's own files, a recipe, a download. Every
    file is written atomically (:mod:`utils.files`); downloads wait in a staging folder until
    pooch has checked them.
    """

    def __init__(self, root: Path, progress: bool, allow_downloads: bool = True):
        self.root = Path(root)
        self.progress = progress
        self.allow_downloads = allow_downloads
        self.staging = self.root / STAGING_RELPATH
        self.counts: dict[str, int] = {}
        self.sources: set[str] = set()
        self._local_index: dict[str, list[tuple[Path, Path, int]]] | None = None
        self._reachability: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def _count(self, what: str, source: str | None = None) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + 1
            if source:
                self.sources.add(source)

    def summary(self) -> str:
        order = ("kept", "copied", "from the package", "derived", "downloaded")
        parts = [f"{self.counts[key]:,} {key}" for key in order if self.counts.get(key)]
        text = ", ".join(parts) or "nothing to do"
        if self.sources:
            text += f" (from {', '.join(sorted(self.sources))})"
        return text

    # -- sources on this machine ---------------------------------------------------------------

    def local_copies(self, sha256: str, size: int) -> list[tuple[Path, Path]]:
        """``(root, path)`` of files on this machine that should hold these bytes (same sha256 in a manifest)."""
        if self._local_index is None:
            index: dict[str, list[tuple[Path, Path, int]]] = {}
            roots = search_roots()
            if self.root not in roots:
                roots.append(self.root)
            for asset in REGISTRY.values():
                for entry in manifest(asset):
                    for root in roots:
                        index.setdefault(entry.sha256, []).append(
                            (root, root / asset.relpath / entry.relpath, entry.size))
            self._local_index = index
        return [(root, path) for root, path, expected in self._local_index.get(sha256, ())
                if expected == size and path.is_file() and path.stat().st_size == size]

    def copy_local(self, sha256: str, size: int, destination: Path) -> bool:
        """Copy a verified local file with these bytes to ``destination``; False when there is none."""
        for root, source in self.local_copies(sha256, size):
            if source != destination and self.copy_verified(source, destination, "sha256", sha256):
                self._count("copied", str(root))
                return True
        return False

    def copy_verified(self, source: Path, destination: Path, algorithm: str, expected: str) -> bool:
        """Copy ``source`` to ``destination`` atomically if its bytes have the expected hash."""
        try:
            with files.atomic_path(destination) as temporary:
                shutil.copyfile(source, temporary)
                if _hash_file(temporary, algorithm) != expected:
                    raise AssetError(f"{source} differs from the registry")
        except (AssetError, OSError):
            return False
        return True

    # -- downloads -------------------------------------------------------------------------------

    def download(self, urls: Sequence[str], algorithm: str, expected: str, destination: Path,
                 progressbar: bool) -> str:
        """Download the first URL that works into ``destination``; return the URL used.

        Raises:
            AssetError: every URL failed (unreachable, HTTP error, interrupted, wrong checksum);
                the message names the URL(s) and the mirror alternative. No file is left.
        """
        if not self.allow_downloads:
            raise AssetError(f"not on this machine, and downloads are off (--offline): {urls[0]}", missing=True)
        import pooch  # deferred: optional until something must be downloaded

        pooch.get_logger().setLevel("WARNING")  # one line per file would drown the progress bar
        failures = []
        for url in urls:
            actual_url = download_url(url)
            host = urlsplit(actual_url).netloc
            with self._lock:
                if host not in self._reachability:
                    self._reachability[host] = _connect_problem(actual_url)
                problem = self._reachability[host]
            if problem:
                failures.append(f"{actual_url}: {problem}")
                continue
            key = hashlib.sha1(str(destination).encode()).hexdigest()  # one staging name per destination
            fetcher = pooch.Pooch(path=self.staging, base_url="", registry={key: f"{algorithm}:{expected}"},
                                  urls={key: actual_url}, retry_if_failed=DOWNLOAD_RETRIES)
            downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=DOWNLOAD_TIMEOUT)
            try:
                staged = Path(fetcher.fetch(key, downloader=downloader))
            except (ValueError, OSError) as error:  # requests' errors are OSErrors; a bad checksum is a ValueError
                failures.append(f"{actual_url}: {' '.join(str(error).split())}")
                continue
            with files.atomic_path(destination) as temporary:
                os.replace(staged, temporary)
            self._count("downloaded", urlsplit(url).netloc)
            return url
        raise AssetError(f"download failed: {'; '.join(failures)}. {_MIRROR_HINT}")

    def _start(self) -> None:
        """Empty the staging folder of runs that died (the caller holds the lock)."""
        if self.staging.is_dir():
            shutil.rmtree(self.staging)

    def _finish(self) -> None:
        """Remove the staging folder and what is left in it (recipe inputs; the caller holds the lock)."""
        if self.staging.is_dir():
            shutil.rmtree(self.staging)

    # -- one asset ---------------------------------------------------------------------------------

    def fill_file(self, asset: Asset) -> Path:
        destination = self.root / asset.relpath
        algorithm, expected = ("sha256", asset.sha256) if asset.sha256 else ("md5", asset.md5)
        if _holds(destination, asset.size, algorithm, expected):
            self._count("kept")
            return destination
        for source in candidates(asset.name):
            if source == destination or not source.is_file():
                continue
            if asset.size is not None and source.stat().st_size != asset.size:
                continue
            if self.copy_verified(source, destination, algorithm, expected):
                self._count("copied", str(source.parent))
                return destination
        if not asset.urls:
            raise AssetError(f"asset {asset.name!r} is nowhere on this machine and has no download: "
                             f"{asset.how_to_get}", missing=True)
        with files.locked(self.staging):
            if _holds(destination, asset.size, algorithm, expected):  # another process got it meanwhile
                self._count("kept")
                return destination
            self._start()
            try:
                self.download(asset.urls, algorithm, expected, destination, progressbar=self.progress)
            finally:
                self._finish()
        return destination

    def fill_tree(self, asset: Asset) -> Path:
        folder = self.root / asset.relpath
        entries = manifest(asset)
        if not entries:
            raise AssetError(f"asset {asset.name!r} has no manifest to fetch it by", missing=True)
        remote = []  # derived files (their input may need a download) and downloads, done under the lock
        for entry in entries:
            destination = folder / entry.relpath
            if _holds(destination, entry.size, "sha256", entry.sha256):
                self._count("kept")
            elif self.copy_local(entry.sha256, entry.size, destination):
                pass
            elif entry.origin.startswith("package:"):
                self.copy_package_file(asset, entry, destination)
            else:
                remote.append(entry)
        if remote:
            with files.locked(self.staging):
                # another process may have fetched some of them while this one waited for the lock
                remote = [entry for entry in remote
                          if not _holds(folder / entry.relpath, entry.size, "sha256", entry.sha256)]
                self._start()
                try:
                    self.run_downloads(asset, folder, remote)
                finally:
                    self._finish()
        return folder

    def copy_package_file(self, asset: Asset, entry: ManifestEntry, destination: Path) -> None:
        source = REGISTRY_DIR / "files" / entry.origin[len("package:"):]
        if not self.copy_verified(source, destination, "sha256", entry.sha256):
            raise AssetError(f"asset {asset.name!r}: the package's {source} is missing or changed; "
                             f"reinstall the project (pip install -e .)")
        self._count("from the package")

    def derive(self, asset: Asset, entry: ManifestEntry, destination: Path) -> None:
        recipe = entry.origin[len("derive:"):]
        if recipe not in _RECIPES:
            raise AssetError(f"asset {asset.name!r}: unknown recipe {recipe!r} for {entry.relpath}")
        make, input_url, input_sha256 = _RECIPES[recipe]
        source = self.staging / f"{input_sha256}.input"  # verified when it arrived; kept for the next recipe
        if not source.is_file() and not any(
                self.copy_verified(path, source, "sha256", input_sha256)
                for _, path in self.local_copies(input_sha256, _RECIPE_INPUT_SIZES[input_sha256])):
            self.download([input_url], "sha256", input_sha256, source, progressbar=False)
        data = make(source.read_bytes())
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise AssetError(f"asset {asset.name!r}: recipe {recipe!r} did not reproduce {entry.relpath}")
        with files.atomic_write(destination, "wb") as handle:
            handle.write(data)
        self._count("derived")

    def run_downloads(self, asset: Asset, folder: Path, entries: Sequence[ManifestEntry]) -> None:
        derived = [entry for entry in entries if entry.origin.startswith("derive:")]
        plain = [entry for entry in entries if not entry.origin.startswith("derive:")]
        for entry in derived:
            self.derive(asset, entry, folder / entry.relpath)
        if not plain:
            return
        bar = None
        if self.progress:
            from tqdm.auto import tqdm  # deferred: only for progress bars

            bar = tqdm(total=len(plain), unit="file", desc=f"{asset.name}", leave=True)
        stop = threading.Event()

        def one(entry: ManifestEntry) -> None:
            if stop.is_set():
                return
            try:
                self.download([entry.origin], "sha256", entry.sha256, folder / entry.relpath, progressbar=False)
            except AssetError:
                stop.set()
                raise
            if bar is not None:
                bar.update(1)

        first_error = None
        with concurrent.futures.ThreadPoolExecutor(max_workers=DOWNLOAD_WORKERS) as pool:
            futures = [pool.submit(one, entry) for entry in plain]
            for future in concurrent.futures.as_completed(futures):
                error = future.exception()
                if error is not None and first_error is None:
                    first_error = error
                    stop.set()
        if bar is not None:
            bar.close()
        if first_error is not None:
            done = self.counts.get("downloaded", 0)
            raise AssetError(f"asset {asset.name!r}: {first_error} ({done:,} of {len(plain):,} files were "
                             f"downloaded and kept; `python -m utils.assets fetch {asset.name}` resumes)")


def fetch(name: str, root: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Put a verified copy of asset ``name`` under ``root``, copying or downloading what is missing.

    Each file comes from the first source that has it: a verified copy already on this machine,
    the package, a recipe, the canonical URL(s) (with pooch: checksum, retries, progress bar).
    Files already in place and correct are kept, so an interrupted fetch resumes.

    Args:
        name: a key of :data:`REGISTRY` (not a derived asset).
        root: the asset root to fill (default: the checkout's cache, :func:`cache_root`).
        progress: show progress bars.

    Returns:
        The verified path ``root / asset.relpath``.

    Raises:
        AssetError: the asset cannot be had (no download and no copy, a download that failed or
            did not match its checksum); the message names the URL and the mirror alternative.

    Example:
        >>> fetch("nst_images", root="/tmp/course-assets")          # doctest: +SKIP
        PosixPath('/tmp/course-assets/datasets/nst')
    """
    path, _ = _fill(get(name), Path(root) if root is not None else cache_root(), progress)
    return path


def _fill(asset: Asset, root: Path, progress: bool, allow_downloads: bool = True) -> tuple[Path, str]:
    if asset.derived:
        raise AssetError(f"asset {asset.name!r} is made on this machine, not fetched: {asset.how_to_get}",
                         missing=True)
    filler = _Filler(root, progress, allow_downloads)
    path = filler.fill_tree(asset) if asset.kind == "tree" else filler.fill_file(asset)
    verify(asset, path)
    return path, filler.summary()


# --------------------------------------------------------------------------------------------
# Recipes: files computed from another pinned file
# --------------------------------------------------------------------------------------------

def _lfw_first_folds(pairs: bytes, folds: int) -> bytes:
    r"""The first ``folds`` folds of an official LFW ``pairs.txt``, with its header rewritten.

    Example:
        >>> _lfw_first_folds(b"3\t1\nA\t1\t2\nA\t1\tB\t1\nC\t1\t2\nC\t1\tD\t1\n", 1)
        b'1\t1\nA\t1\t2\nA\t1\tB\t1\n'
    """
    lines = pairs.decode("ascii").splitlines()
    _, per_fold = (int(value) for value in lines[0].split())
    kept = lines[1:1 + folds * 2 * per_fold]
    return (f"{folds}\t{per_fold}\n" + "".join(line + "\n" for line in kept)).encode("ascii")


def _lfw_pairs_csv(pairs: bytes) -> bytes:
    r"""An LFW ``pairs.txt`` as ``fold,same,path_a,path_b,name_a,name_b`` rows (paths under images/).

    Example:
        >>> print(_lfw_pairs_csv(b"1\t1\nA\t1\t2\nA\t1\tB\t3\n").decode().replace("\r", ""), end="")
        fold,same,path_a,path_b,name_a,name_b
        1,1,images/A/A_0001.jpg,images/A/A_0002.jpg,A,A
        1,0,images/A/A_0001.jpg,images/B/B_0003.jpg,A,B
    """
    lines = pairs.decode("ascii").splitlines()
    _, per_fold = (int(value) for value in lines[0].split())
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["fold", "same", "path_a", "path_b", "name_a", "name_b"])
    for index, line in enumerate(lines[1:]):
        fields = line.split("\t")
        if len(fields) == 3:
            name_a, number_a, name_b, number_b = fields[0], fields[1], fields[0], fields[2]
        else:
            name_a, number_a, name_b, number_b = fields
        writer.writerow([index // (2 * per_fold) + 1, int(len(fields) == 3),
                         f"images/{name_a}/{name_a}_{int(number_a):04d}.jpg",
                         f"images/{name_b}/{name_b}_{int(number_b):04d}.jpg", name_a, name_b])
    return text.getvalue().encode("ascii")


#: recipe name -> (function of the input's bytes, input URL, input sha256).
_RECIPES: dict[str, tuple[Callable[[bytes], bytes], str, str]] = {
    "lfw_pairs_txt_folds_1_2": (lambda pairs: _lfw_first_folds(pairs, 2), LFW_PAIRS_URL, LFW_PAIRS_SHA256),
    "lfw_pairs_csv_folds_1_2": (lambda pairs: _lfw_pairs_csv(_lfw_first_folds(pairs, 2)), LFW_PAIRS_URL,
                                LFW_PAIRS_SHA256),
}
_RECIPE_INPUT_SIZES = {LFW_PAIRS_SHA256: 155_335}


# --------------------------------------------------------------------------------------------
# Setup, mirror, status
# --------------------------------------------------------------------------------------------

def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _line(name: str, state: str, detail: str) -> str:
    return f"{name:24s} {state:10s} {_one_line(detail)}"


def _default_names() -> list[str]:
    return [name for name, asset in REGISTRY.items() if asset.default and not asset.derived]


def _check_names(names: Iterable[str] | None) -> list[str]:
    if not names:
        return _default_names()
    names = list(names)
    for name in names:
        get(name)
    return names


def mirror_in_use() -> Path | None:
    """The mirror folder this machine works from (``$COURSE_ASSETS``, else ``../shared``), if any."""
    env = os.environ.get(ASSETS_ENV_VAR)
    if env and Path(env).expanduser().is_dir():
        return Path(env).expanduser()
    shared = shared_root()
    return shared if shared is not None and shared.is_dir() else None


def _stand_in(name: str) -> str | None:
    """A present asset that serves instead of ``name`` (e.g. the partial VGG19 file for the full one)."""
    for other in REGISTRY.values():
        if other.replaced_by == name and _present(other.name):
            return other.name
    return None


def ensure(names: Iterable[str] | None = None, progress: bool = True,
           download: bool | None = None) -> list[str]:
    """Make every asset available: verify what is there, get what is missing (the setup step).

    Mirrors first (``$COURSE_ASSETS``, ``../shared``): an asset found there costs no network call.
    Where a mirror folder is in use the network is not touched at all (an offline classroom, this
    project's CI); an asset the mirror lacks is then reported ``MISSING`` — or ``optional`` when a
    present stand-in serves instead (the partial VGG19 file for the full one). Without a mirror the
    files come from copies on this machine or the canonical URLs, into the checkout's cache. Never
    raises for a missing asset: its line says why.

    Args:
        names: assets to make available (default: every asset fetched by default; derived ones such
            as the converted face encoder are made by ``make setup``, not here).
        progress: show progress bars while downloading.
        download: allow the network; ``None`` (default) allows it only when no mirror is in use.

    Returns:
        One line per asset: ``NAME  ok|fetched|not needed|optional|MISSING|CORRUPT  where / why``.

    Example:
        >>> print(ensure(["nst_images"], progress=False)[0])                # doctest: +SKIP
        nst_images               ok         /work/shared/datasets/nst
    """
    mirror_folder = mirror_in_use()
    if download is None:
        download = mirror_folder is None
    lines = []
    for name in _check_names(names):
        asset = get(name)
        path, corrupt, _ = _search(asset)
        if path is not None:
            lines.append(_line(name, "ok", str(path)))
            continue
        if asset.replaced_by and _present(asset.replaced_by):
            lines.append(_line(name, "not needed", f"asset {asset.replaced_by!r} is present and holds "
                                                   f"everything this one has"))
            continue
        stand_in = _stand_in(name)
        if stand_in and not download and not corrupt:
            lines.append(_line(name, "optional", f"not in the mirror {mirror_folder}; asset {stand_in!r} "
                                                 f"serves instead. {asset.how_to_get}"))
            continue
        if asset.derived or not asset.fetchable or not download:
            state = "CORRUPT" if corrupt else "MISSING"
            lines.append(_line(name, state, corrupt[0] if corrupt else _missing_reason(asset)))
            continue
        try:
            path, summary = _fill(asset, cache_root(), progress)
            lines.append(_line(name, "fetched", f"{path}: {summary}"))
        except AssetError as error:
            lines.append(_line(name, "MISSING", str(error)))
    return lines


def mirror(directory: str | os.PathLike, names: Iterable[str] | None = None, progress: bool = True,
           download: bool = True) -> list[str]:
    """Copy (or fetch) and verify assets into ``directory``, laid out like ``../shared``.

    The result works as ``COURSE_ASSETS=directory`` on a machine without the network. Copies
    already on this machine are used before any download.

    Args:
        directory: the mirror folder (created).
        names: assets to include (default: every asset fetched by default).
        progress: show progress bars while downloading.
        download: allow the network (False: copy what this machine has, report the rest).

    Returns:
        One line per asset: ``NAME  ok|copied|fetched|skipped|MISSING  detail``.

    Example:
        >>> mirror("/media/usb/course-assets")                           # doctest: +SKIP
    """
    root = Path(directory).expanduser()
    lines = []
    for name in _check_names(names):
        asset = get(name)
        destination = root / asset.relpath
        if asset.derived:
            lines.append(_line(name, "skipped", f"made on each machine: {asset.how_to_get}"))
            continue
        try:
            if destination.exists():
                verify(asset, destination)
                lines.append(_line(name, "ok", f"{destination} (already there)"))
                continue
        except AssetError:
            pass
        try:
            path, summary = _fill(asset, root, progress, allow_downloads=download)
            state = "fetched" if "downloaded" in summary else "copied"
            lines.append(_line(name, state, f"{path}: {summary}"))
        except AssetError as error:
            if asset.replaced_by and not asset.fetchable:
                lines.append(_line(name, "skipped", f"no copy on this machine and no public download; "
                                                    f"asset {asset.replaced_by!r} replaces it"))
            else:
                lines.append(_line(name, "MISSING", str(error)))
    return lines


def _present(name: str) -> bool:
    """Whether a verified copy of asset ``name`` is on this machine (never raises)."""
    try:
        return find(name) is not None
    except AssetError:
        return False


def _missing_reason(asset: Asset) -> str:
    return f"not found in {', '.join(_place_names(asset))}; {asset.how_to_get}"


def _place_names(asset: Asset) -> list[str]:
    names = []
    if os.environ.get(ASSETS_ENV_VAR):
        names.append("$COURSE_ASSETS")
    if shared_root() is not None:
        names.append(str(shared_root()))
    names.append(str(cache_root()))
    if asset.extra_locations:
        names.append(" or ".join(str(Path(p).parent) for extra in asset.extra_locations for p in extra()))
    return names


def status_table() -> str:
    """One line per registered asset: where it was found, or why it is missing (no network).

    Example:
        >>> print(status_table())                                  # doctest: +SKIP
        vgg19_full               MISSING    not found in ...
    """
    lines = []
    for name, asset in REGISTRY.items():
        path, corrupt, _ = _search(asset)
        if path is not None:
            lines.append(_line(name, "ok", str(path)))
        elif corrupt:
            lines.append(_line(name, "CORRUPT", corrupt[0]))
        elif not asset.default:
            lines.append(_line(name, "absent", asset.how_to_get))
        elif asset.replaced_by and _present(asset.replaced_by):
            lines.append(_line(name, "not needed", f"asset {asset.replaced_by!r} is present"))
        else:
            lines.append(_line(name, "MISSING", _missing_reason(asset)))
    return "\n".join(lines)


def _failures(lines: Sequence[str]) -> list[str]:
    return [line.split()[0] for line in lines if line.split()[1] in ("MISSING", "CORRUPT")]


def main(argv: list[str] | None = None) -> int:
    """The command line: status (default), ``fetch [NAME ...]``, ``mirror DIR [NAME ...]``.

    Returns:
        0 on success, 2 when an asset could not be had (one ``error:`` line on stderr).
    """
    parser = argparse.ArgumentParser(prog="python -m utils.assets",
                                     description="Show, fetch or mirror the course's weights and data sets.")
    parser.add_argument("--download", metavar="NAME", help="same as `fetch NAME`")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("status", help="where each asset is, verified (the default; no network)")
    fetch_parser = commands.add_parser("fetch", help="get missing assets: mirrors first, else the canonical URLs")
    fetch_parser.add_argument("names", nargs="*", metavar="NAME")
    fetch_parser.add_argument("--quiet", action="store_true", help="no progress bars")
    fetch_parser.add_argument("--offline", action="store_true", help="never use the network; only report")
    mirror_parser = commands.add_parser("mirror", help="copy or fetch assets into DIR (for COURSE_ASSETS=DIR)")
    mirror_parser.add_argument("directory", metavar="DIR")
    mirror_parser.add_argument("names", nargs="*", metavar="NAME")
    mirror_parser.add_argument("--quiet", action="store_true", help="no progress bars")
    mirror_parser.add_argument("--offline", action="store_true",
                               help="copy what this machine has, never use the network")
    args = parser.parse_args(argv)
    try:
        if args.download:
            lines = ensure([args.download])
        elif args.command == "fetch":
            lines = ensure(args.names, progress=not args.quiet, download=not args.offline)
        elif args.command == "mirror":
            lines = mirror(args.directory, args.names, progress=not args.quiet, download=not args.offline)
        else:
            print(status_table())
            return 0
    except (ValueError, OSError) as error:
        return report(UsageError(str(error)) if isinstance(error, ValueError) else error)
    print("\n".join(lines))
    failed = _failures(lines)
    if failed:
        return report(AssetError(f"{len(failed)} asset(s) could not be had: {', '.join(failed)} (see above)"))
    if args.command == "mirror":
        print(f"Use it with: COURSE_ASSETS={Path(args.directory).expanduser().resolve()} python -m utils.assets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
