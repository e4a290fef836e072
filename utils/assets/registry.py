"""The registry: every weight file and data set the course uses, named once (see :mod:`utils.assets`).

Each :class:`Asset` says where the asset lives (``weights/...`` or ``datasets/...``), its size and
checksum, its licence, its canonical source and whether it may be committed; a data set also names
its per-file manifest in ``utils/asset_registry/`` (:class:`ManifestEntry` rows). :func:`get`
returns one entry.

Example:
    >>> get("nst_images").relpath
    'datasets/nst'
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
from collections.abc import Callable, Iterable
from pathlib import Path

#: Folder of the per-file manifests and of the package's own data files (``utils/asset_registry``).
REGISTRY_DIR = Path(__file__).resolve().parent.parent / "asset_registry"

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
DLIB_DAT_URL = (
    f"{GITHUB_RAW}/ageitgey/face_recognition_models/e67de717267507d1e9246de95692eb8be736ab61/"
    "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat"
)


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
    return [Path(p) / "models" / "dlib_face_recognition_resnet_model_v1.dat" for p in spec.submodule_search_locations]


def _keras_cache_vgg19() -> Iterable[Path]:
    """Where ``keras.applications.VGG19(weights="imagenet")`` keeps its download."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return [keras_home / "models" / VGG19_FULL_FILENAME]


_FETCH_HINT = (
    "run `python -m utils.assets fetch {name}` (or `make setup`) on a connected machine, "
    "or set COURSE_ASSETS to a mirror folder made with `python -m utils.assets mirror DIR`"
)

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
