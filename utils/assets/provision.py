"""The setup step, mirrors and the status table: :func:`ensure`, :func:`mirror`, :func:`status_table`.

Each returns (or prints) one line per asset: ``NAME  STATE  where / why``.

Example:
    >>> _line("lfw", "ok", "/data/lfw")
    'lfw                      ok         /data/lfw'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from utils.assets import checksums, fetching, lookup, registry, resolver
from utils.assets.registry import Asset
from utils.errors import AssetError


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _line(name: str, state: str, detail: str) -> str:
    return f"{name:24s} {state:10s} {_one_line(detail)}"


def _default_names() -> list[str]:
    return [name for name, asset in registry.REGISTRY.items() if asset.default and not asset.derived]


def _check_names(names: Iterable[str] | None) -> list[str]:
    if not names:
        return _default_names()
    names = list(names)
    for name in names:
        registry.get(name)
    return names


def mirror_in_use() -> Path | None:
    """The mirror folder this machine works from (``$COURSE_ASSETS``, else ``../shared``), if any."""
    env = os.environ.get(lookup.ASSETS_ENV_VAR)
    if env and Path(env).expanduser().is_dir():
        return Path(env).expanduser()
    shared = lookup.shared_root()
    return shared if shared is not None and shared.is_dir() else None


def _stand_in(name: str) -> str | None:
    """A present asset that serves instead of ``name`` (e.g. the partial VGG19 file for the full one)."""
    for other in registry.REGISTRY.values():
        if other.replaced_by == name and _present(other.name):
            return other.name
    return None


def ensure(names: Iterable[str] | None = None, progress: bool = True, download: bool | None = None) -> list[str]:
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
        asset = registry.get(name)
        path, corrupt, _ = resolver._search(asset)
        if path is not None:
            lines.append(_line(name, "ok", str(path)))
            continue
        if asset.replaced_by and _present(asset.replaced_by):
            lines.append(
                _line(name, "not needed", f"asset {asset.replaced_by!r} is present and holds everything this one has")
            )
            continue
        stand_in = _stand_in(name)
        if stand_in and not download and not corrupt:
            lines.append(
                _line(
                    name,
                    "optional",
                    f"not in the mirror {mirror_folder}; asset {stand_in!r} serves instead. {asset.how_to_get}",
                )
            )
            continue
        if asset.derived or not asset.fetchable or not download:
            state = "CORRUPT" if corrupt else "MISSING"
            lines.append(_line(name, state, corrupt[0] if corrupt else _missing_reason(asset)))
            continue
        try:
            path, summary = fetching._fill(asset, lookup.cache_root(), progress)
            lines.append(_line(name, "fetched", f"{path}: {summary}"))
        except AssetError as error:
            lines.append(_line(name, "MISSING", str(error)))
    return lines


def mirror(
    directory: str | os.PathLike, names: Iterable[str] | None = None, progress: bool = True, download: bool = True
) -> list[str]:
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
        asset = registry.get(name)
        destination = root / asset.relpath
        if asset.derived:
            lines.append(_line(name, "skipped", f"made on each machine: {asset.how_to_get}"))
            continue
        try:
            if destination.exists():
                checksums.verify(asset, destination)
                lines.append(_line(name, "ok", f"{destination} (already there)"))
                continue
        except AssetError:
            pass
        try:
            path, summary = fetching._fill(asset, root, progress, allow_downloads=download)
            state = "fetched" if "downloaded" in summary else "copied"
            lines.append(_line(name, state, f"{path}: {summary}"))
        except AssetError as error:
            if asset.replaced_by and not asset.fetchable:
                lines.append(
                    _line(
                        name,
                        "skipped",
                        f"no copy on this machine and no public download; asset {asset.replaced_by!r} replaces it",
                    )
                )
            else:
                lines.append(_line(name, "MISSING", str(error)))
    return lines


def _present(name: str) -> bool:
    """Whether a verified copy of asset ``name`` is on this machine (never raises)."""
    try:
        return resolver.find(name) is not None
    except AssetError:
        return False


def _missing_reason(asset: Asset) -> str:
    return f"not found in {', '.join(_place_names(asset))}; {asset.how_to_get}"


def _place_names(asset: Asset) -> list[str]:
    names = []
    if os.environ.get(lookup.ASSETS_ENV_VAR):
        names.append("$COURSE_ASSETS")
    if lookup.shared_root() is not None:
        names.append(str(lookup.shared_root()))
    names.append(str(lookup.cache_root()))
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
    for name, asset in registry.REGISTRY.items():
        path, corrupt, _ = resolver._search(asset)
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
