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
file and moves it into place only once verified, retries a failed transfer and shows a progress
bar; it is what SciPy and scikit-image use for their data. ``keras.utils.get_file`` (Keras 3.15)
writes straight to the destination, leaves a file that fails its checksum in place, has no retries
and needs Keras imported to fetch a JPEG. With pooch, a failed or corrupt download leaves no file
behind and raises :class:`AssetError` naming the URL and how to use a mirror instead. Files of a
folder are placed one by one, each atomically and verified, so an interrupted ``fetch`` resumes
where it stopped.

``$COURSE_ASSETS_URL`` (or the ``base_url`` argument of :func:`download_url`) replaces the
scheme and host of every canonical URL, keeping the host as the first path component:
``https://raw.githubusercontent.com/a/b/c.jpg`` becomes ``$COURSE_ASSETS_URL/raw.githubusercontent.com/a/b/c.jpg``
(the layout ``wget -x`` writes), for the tests' loopback server or a local HTTP mirror.

**Committing data.** No data set or weight file is committed to the repository (see each entry's
``commit_decision``): the course photos carry no licence, LFW is for research use, the
face_recognition example photos show public figures with unclear rights, and some NST images are
of unknown origin; the public-domain paintings alone would not save a download. Only the
project's own small text files (manifests, ``SOURCES.md``) ship in the package.

**The modules**, one concept each (imports run down this list):

* :mod:`~utils.assets.registry` — :class:`~utils.assets.registry.Asset`, ``ManifestEntry``,
  ``REGISTRY``, :func:`get`;
* :mod:`~utils.assets.lookup` — where to look: ``search_roots``, ``candidates``, :func:`cache_root`
  and the environment variables' names;
* :mod:`~utils.assets.checksums` — digests, manifests, sidecars, :func:`verify`;
* :mod:`~utils.assets.recipes` — files derived from another pinned file;
* :mod:`~utils.assets.fetching` — :func:`fetch`: local copies, the package, recipes, pooch;
* :mod:`~utils.assets.resolver` — :func:`resolve`, :func:`find`;
* :mod:`~utils.assets.provision` — :func:`ensure` (the setup step), :func:`mirror`, :func:`status_table`;
* :mod:`~utils.assets.cli` — ``python -m utils.assets``.

This package exports what the course calls (:data:`__all__`: finding, getting and verifying an
asset, and the sidecar of a file made from one), so callers write ``from utils import assets;
assets.resolve(...)``. Everything else is imported from its module (``from utils.assets.registry
import REGISTRY``), and a test replaces a name in the module that defines it
(``monkeypatch.setattr(fetching, "DOWNLOAD_RETRIES", 0)``): the modules read each other's names
through the module (``registry.REGISTRY``, ``lookup.search_roots()``), so one replacement reaches
every caller inside the package.

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

from utils.assets.checksums import manifest, sidecar_path, verify, write_sidecar
from utils.assets.fetching import fetch
from utils.assets.lookup import cache_root
from utils.assets.provision import ensure, mirror, status_table
from utils.assets.registry import get
from utils.assets.resolver import find, resolve

__all__ = [
    "cache_root",
    "ensure",
    "fetch",
    "find",
    "get",
    "manifest",
    "mirror",
    "resolve",
    "sidecar_path",
    "status_table",
    "verify",
    "write_sidecar",
]
