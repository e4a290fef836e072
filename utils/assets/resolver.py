"""Resolving an asset: the first verified copy in the search order, or a clear error (see :mod:`utils.assets`).

Example:
    >>> find("nst_images") is None or find("nst_images").name == "nst"
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from utils.assets import checksums, fetching, lookup, registry
from utils.assets.registry import Asset
from utils.errors import AssetError


def _search(asset: Asset) -> tuple[Path | None, list[str], list[Path]]:
    """``(first verified path or None, errors of corrupt copies, every path searched)``."""
    searched = lookup.candidates(asset.name)
    corrupt: list[str] = []
    for path in searched:
        if not path.exists():
            continue
        try:
            checksums.verify(asset, path)
            return path, corrupt, searched
        except AssetError as error:
            corrupt.append(str(error))
    return None, corrupt, searched


def _missing_error(asset: Asset, searched: Sequence[Path]) -> AssetError:
    places = "\n  ".join(str(p) for p in searched)
    return AssetError(
        f"asset {asset.name!r} ({asset.filename}) was not found. Looked in:\n  {places}\n"
        f"How to get it: {asset.how_to_get}\nSource: {asset.source}; licence: {asset.licence}",
        missing=True,
    )


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
    asset = registry.get(name)
    path, corrupt, searched = _search(asset)
    if path is not None:
        return path
    if download and asset.fetchable:
        return fetching.fetch(name, progress=progress)
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
