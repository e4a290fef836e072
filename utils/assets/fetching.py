"""Getting a missing asset: copies on this machine first, then the package, a recipe, the canonical URL.

Downloads use `pooch <https://www.fatiando.org/pooch>`_, which checks the sha256 (or md5) given up
front, writes to a temporary file and moves it into place only once verified, and retries a failed
transfer: this module adds none of that itself. What it adds is the order of the sources, the
staging folder (pooch's temporaries never land inside a data set's folder, so an interrupted run
leaves nothing there that verification would reject), the inter-process lock around downloads
(:func:`utils.files.locked`), a thread pool for the many small files of a data set, and one clear
line when the host cannot be reached.

Example:
    >>> download_url("https://raw.githubusercontent.com/o/r/c/a.jpg", "http://127.0.0.1:8000")
    'http://127.0.0.1:8000/raw.githubusercontent.com/o/r/c/a.jpg'
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import shutil
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from utils import files
from utils.assets import checksums, lookup, recipes, registry
from utils.assets.registry import Asset, ManifestEntry
from utils.errors import AssetError

#: Environment variable replacing the scheme and host of every canonical URL (tests, HTTP mirrors).
URL_ENV_VAR = "COURSE_ASSETS_URL"
#: Extra attempts after a failed or corrupt transfer of one file (pooch waits 1 s, 2 s, ...).
DOWNLOAD_RETRIES = 2
#: Seconds to wait for a connection and for each read.
DOWNLOAD_TIMEOUT = (10, 60)
#: Files of one folder downloaded at once.
DOWNLOAD_WORKERS = 8
#: Where downloads wait for their checksum, relative to the folder being filled (emptied after).
STAGING_RELPATH = "datasets/.downloads"
_MIRROR_HINT = (
    "To work offline instead, copy a mirror folder made with `python -m utils.assets mirror DIR` "
    "on a connected machine and set COURSE_ASSETS=DIR (or place it beside the checkout as "
    "../shared)."
)


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
    return any(
        os.environ.get(name)
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
    )


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
    return checksums._hash_file(path, algorithm) == expected


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
            roots = lookup.search_roots()
            if self.root not in roots:
                roots.append(self.root)
            for asset in registry.REGISTRY.values():
                for entry in checksums.manifest(asset):
                    for root in roots:
                        index.setdefault(entry.sha256, []).append(
                            (root, root / asset.relpath / entry.relpath, entry.size)
                        )
            self._local_index = index
        return [
            (root, path)
            for root, path, expected in self._local_index.get(sha256, ())
            if expected == size and path.is_file() and path.stat().st_size == size
        ]

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
                if checksums._hash_file(temporary, algorithm) != expected:
                    raise AssetError(f"{source} differs from the registry")
        except (AssetError, OSError):
            return False
        return True

    # -- downloads -------------------------------------------------------------------------------

    def download(self, urls: Sequence[str], algorithm: str, expected: str, destination: Path, progressbar: bool) -> str:
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
            fetcher = pooch.Pooch(
                path=self.staging,
                base_url="",
                registry={key: f"{algorithm}:{expected}"},
                urls={key: actual_url},
                retry_if_failed=DOWNLOAD_RETRIES,
            )
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
        for source in lookup.candidates(asset.name):
            if source == destination or not source.is_file():
                continue
            if asset.size is not None and source.stat().st_size != asset.size:
                continue
            if self.copy_verified(source, destination, algorithm, expected):
                self._count("copied", str(source.parent))
                return destination
        if not asset.urls:
            raise AssetError(
                f"asset {asset.name!r} is nowhere on this machine and has no download: {asset.how_to_get}", missing=True
            )
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
        entries = checksums.manifest(asset)
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
                remote = [
                    entry for entry in remote if not _holds(folder / entry.relpath, entry.size, "sha256", entry.sha256)
                ]
                self._start()
                try:
                    self.run_downloads(asset, folder, remote)
                finally:
                    self._finish()
        return folder

    def copy_package_file(self, asset: Asset, entry: ManifestEntry, destination: Path) -> None:
        source = registry.REGISTRY_DIR / "files" / entry.origin[len("package:") :]
        if not self.copy_verified(source, destination, "sha256", entry.sha256):
            raise AssetError(
                f"asset {asset.name!r}: the package's {source} is missing or changed; "
                f"reinstall the project (pip install -e .)"
            )
        self._count("from the package")

    def derive(self, asset: Asset, entry: ManifestEntry, destination: Path) -> None:
        recipe = entry.origin[len("derive:") :]
        if recipe not in recipes.RECIPES:
            raise AssetError(f"asset {asset.name!r}: unknown recipe {recipe!r} for {entry.relpath}")
        make, input_url, input_sha256 = recipes.RECIPES[recipe]
        source = self.staging / f"{input_sha256}.input"  # verified when it arrived; kept for the next recipe
        if not source.is_file() and not any(
            self.copy_verified(path, source, "sha256", input_sha256)
            for _, path in self.local_copies(input_sha256, recipes.RECIPE_INPUT_SIZES[input_sha256])
        ):
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
            raise AssetError(
                f"asset {asset.name!r}: {first_error} ({done:,} of {len(plain):,} files were "
                f"downloaded and kept; `python -m utils.assets fetch {asset.name}` resumes)"
            )


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
    path, _ = _fill(registry.get(name), Path(root) if root is not None else lookup.cache_root(), progress)
    return path


def _fill(asset: Asset, root: Path, progress: bool, allow_downloads: bool = True) -> tuple[Path, str]:
    if asset.derived:
        raise AssetError(f"asset {asset.name!r} is made on this machine, not fetched: {asset.how_to_get}", missing=True)
    filler = _Filler(root, progress, allow_downloads)
    path = filler.fill_tree(asset) if asset.kind == "tree" else filler.fill_file(asset)
    # Every file was checked as it was placed (pooch's checksum on download, a hash on a copy or a
    # kept file), so only a folder's listing is left to compare; no second pass over the bytes.
    checksums.record_verified(asset, path)
    return path, filler.summary()
