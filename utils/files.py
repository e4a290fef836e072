"""Safe file writing: atomic replacement, a lock for read-change-write cycles, no orphaned temporaries.

Every file the library writes (images, face databases, indexes, caches, converted weights, JSON
results) goes through :func:`atomic_write`: the bytes go to a temporary file in the destination's
folder, are flushed to disk, and the temporary is renamed over the destination in one step
(``os.replace``), so a reader sees the old file or the new one, never half of one — even when the
writer is killed.

Temporary names carry the writer's process id (``.NAME.PID.RANDOM.tmp``), so the next write to
the same destination removes the temporaries of writers that died (``kill -9``, power loss)
instead of letting them pile up; a live writer's temporary is never touched. Whether a process
still runs is asked of ``psutil.pid_exists``, which is right on every system (the POSIX idiom
``os.kill(pid, 0)`` would, on Windows, *send* a Ctrl+C event to that process instead).

:func:`locked` serialises read → change → write cycles between processes with an OS lock on a
``NAME.lock`` file beside the data, taken through the ``filelock`` library: ``flock`` on POSIX,
``LockFileEx`` on Windows. Both are released by the operating system when their holder dies, so a
crashed writer can never leave the data locked (a lock *file* created with ``O_EXCL`` would stay
behind); ``filelock`` is the lock virtualenv and tox use, and it saves us one hand-written code
path per operating system.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_write(folder / "hello.txt", "w") as handle:
    ...     _ = handle.write("hi")
    >>> (folder / "hello.txt").read_text()
    'hi'
    >>> with locked(folder / "hello.txt"):
    ...     pass
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock
import psutil

from utils.errors import UsageError

_SUFFIX = ".tmp"


def _temporary_path(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{_SUFFIX}"


def _pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists (anyone's; see the module docstring)."""
    return psutil.pid_exists(pid)


def clean_stale_temporaries(path) -> list[Path]:
    """Remove the temporaries that dead writers left for destination ``path``; return them.

    Only files named like this module's temporaries for exactly this destination
    (``.NAME.PID.RANDOM.tmp``) whose PID no longer runs are removed.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    prefix = f".{path.name}."
    for candidate in path.parent.iterdir():
        name = candidate.name
        if not (name.startswith(prefix) and name.endswith(_SUFFIX)):
            continue
        parts = name[len(prefix) : -len(_SUFFIX)].split(".")
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        if not _pid_alive(int(parts[0])):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    For libraries that want a file name rather than a handle (PIL, Keras, FAISS). The parent folder
    is created. On any exception the temporary is removed and ``path`` is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
        >>> with atomic_path(target) as temporary:
        ...     _ = temporary.write_bytes(b"x")
        >>> target.read_bytes()
        b'x'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path)
    temporary = _temporary_path(path)
    try:
        yield temporary
        if not temporary.exists():
            raise FileNotFoundError(f"nothing was written to the temporary file for {path}")
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None):
    """Open a temporary file for writing; on success it atomically replaces ``path``.

    Args:
        path: the destination.
        mode: ``"wb"`` (default) or ``"w"``.
        encoding: text encoding for ``"w"`` (default UTF-8).

    Yields:
        The open file handle.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb'; got {mode!r}")
    with atomic_path(path) as temporary:
        with open(temporary, mode, encoding=(encoding or "utf-8") if mode == "w" else None) as handle:
            yield handle
            handle.flush()


def write_text(path, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``; returns the path."""
    with atomic_write(path, "w") as handle:
        handle.write(text)
    return Path(path)


def write_with(path, writer: Callable[[Path], object]) -> Path:
    """Atomically produce ``path`` with ``writer(temporary_path)``; returns the path."""
    with atomic_path(path) as temporary:
        writer(temporary)
    return Path(path)


def lock_path(path) -> Path:
    """The lock file that :func:`locked` uses for ``path``."""
    path = Path(path)
    return path.parent / f"{path.name}.lock"


@contextlib.contextmanager
def locked(path, shared: bool = False):
    """Hold an inter-process lock for ``path`` while the ``with`` block runs.

    Blocks until the lock is free. The lock is the operating system's (through ``filelock``), so
    it disappears with the process that holds it. Do not nest two ``locked`` blocks on the same
    path in one process: the second waits for the first forever.

    Args:
        path: the data file to protect; the lock is :func:`lock_path` of it.
        shared: a reader's request. ``filelock``'s portable lock is exclusive only, so readers
            take the same lock as writers; they hold it for the milliseconds a load takes.

    Raises:
        OSError: the lock file cannot be created (e.g. a read-only folder).

    Example:
        >>> import tempfile, pathlib
        >>> data = pathlib.Path(tempfile.mkdtemp()) / "db.npz"
        >>> with locked(data):
        ...     lock_path(data).name
        'db.npz.lock'
    """
    del shared  # see Args: one exclusive lock serves readers and writers
    target = lock_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(os.fspath(target)):
        yield


def check_writable(path, inputs=(), what: str = "output") -> Path:
    """Check before any work that ``path`` can be written and is not one of ``inputs``.

    Raises :class:`utils.errors.UsageError` when ``path`` is a folder, lies under a regular file,
    is in a folder this process cannot write, or names the same file as one of ``inputs``.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{what} {path} is a folder; give a file name")
    for source in inputs:
        try:
            same = Path(source).exists() and path.exists() and os.path.samefile(source, path)
        except OSError:
            same = False
        if same or Path(source).resolve() == path.resolve():
            raise UsageError(f"{what} {path} is also an input ({source}); refusing to overwrite it")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{what} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path}: folder {parent} is not writable")
    return path
