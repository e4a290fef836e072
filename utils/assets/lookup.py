"""Where assets are looked for: ``$COURSE_ASSETS``, ``../shared``, the checkout's cache, package folders.

Example:
    >>> search_roots()[-1] == cache_root()
    True
"""

from __future__ import annotations

import os
from pathlib import Path

from utils import config
from utils.assets import registry

#: Environment variable naming an extra asset folder searched first (laid out like ``../shared``).
ASSETS_ENV_VAR = "COURSE_ASSETS"
#: Environment variable naming the ``../shared`` folder; an empty value leaves it out.
SHARED_ENV_VAR = "COURSE_SHARED"
#: Environment variable naming the folder fetched assets go to (default: the checkout).
CACHE_ENV_VAR = "COURSE_ASSETS_CACHE"


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


def candidates(name: str) -> list[Path]:
    """Every path where asset ``name`` may be, in lookup order."""
    asset = registry.get(name)
    paths = [root / asset.relpath for root in search_roots()]
    for extra in asset.extra_locations:
        paths.extend(extra())
    return paths
