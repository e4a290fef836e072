"""Checksums and manifests: hashing files and folders, reading the per-file manifests, verifying a copy.

A file is used only after its checksum matches (sha256; md5 for Keras' VGG19 file); a folder only
when every file of its manifest is there with its size and sha256 (hidden files are ignored).
Results are cached per path, modification time and size, so a second :func:`verify` is free.

Example:
    >>> len(manifest("nst_images")) > 10
    True
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import json
from collections.abc import Sequence
from pathlib import Path

from utils import files
from utils.assets import registry
from utils.assets.registry import Asset, ManifestEntry
from utils.errors import AssetError


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


@functools.cache
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
    asset = registry.get(name) if isinstance(name, str) else name
    if asset.manifest is None:
        return ()
    path = Path(asset.manifest)
    if not path.is_absolute():
        path = registry.REGISTRY_DIR / path
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


#: (path, newest mtime, total size) -> the asset verified there: a copy is hashed once per process.
_VERIFIED: dict[tuple[str, float, int], str] = {}


def forget_verified() -> None:
    """Forget which copies this process has verified, so the next :func:`verify` hashes them again.

    Tests call it after writing test files whose size and time may equal those of a file
    verified before.

    Example:
        >>> forget_verified()
    """
    _VERIFIED.clear()


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
        raise AssetError(
            f"asset {asset.name!r} at {path} is corrupt or a different version: {len(wrong)} "
            f"file(s) differ from the registry ({_examples(wrong)}). {asset.how_to_get}"
        )
    if missing:
        raise AssetError(
            f"asset {asset.name!r} at {path} is incomplete: {len(missing):,} of {len(entries):,} "
            f"files are missing ({_examples(missing)}). Run `python -m utils.assets fetch "
            f"{asset.name}` to complete it, or {asset.how_to_get}"
        )
    if unexpected:
        raise AssetError(
            f"asset {asset.name!r} at {path} holds {len(unexpected)} file(s) the registry "
            f"does not list ({_examples(unexpected)}); remove them"
        )


def record_verified(asset: Asset, path: Path) -> None:
    """Remember that ``path`` holds ``asset`` after each of its files was checked as it was placed.

    The fetcher calls this instead of :func:`verify`: pooch checked every download against its
    checksum and every copy or kept file was hashed, so reading the bytes again would only repeat
    that. A folder's listing is still compared with its manifest (a missing or unlisted file
    sends it through :func:`verify`, which names the problem).

    Args:
        asset: the registry entry.
        path: where the fetcher put it.

    Raises:
        AssetError: the folder's listing differs from the manifest (from :func:`verify`).
    """
    path = Path(path)
    if asset.kind == "tree":
        entries = manifest(asset)
        if not entries or set(_visible_files(path)) != {entry.relpath for entry in entries}:
            verify(asset, path)
            return
    elif not path.is_file():
        verify(asset, path)
        return
    _VERIFIED[_stamp(path)] = asset.name


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
                raise AssetError(
                    f"asset {asset.name!r}: {path} has no checksum file {sidecar.name}; {asset.how_to_get}"
                )
            expected = json.loads(sidecar.read_text())["sha256"]
            actual, what = _hash_file(path), "sha256"
        elif asset.sha256:
            expected, actual, what = asset.sha256, _hash_file(path), "sha256"
        else:
            expected, actual, what = asset.md5, _hash_file(path, "md5"), "md5"
    if asset.size is not None and size != asset.size:
        raise AssetError(
            f"asset {asset.name!r} at {path} has {size:,} bytes, expected {asset.size:,}: "
            f"the copy is incomplete or a different file. {asset.how_to_get}"
        )
    if actual != expected:
        raise AssetError(
            f"asset {asset.name!r} at {path} is corrupt or a different version: {what} "
            f"{actual} != expected {expected}. {asset.how_to_get}"
        )
    _VERIFIED[key] = asset.name
