"""The sandbox each learner kernel runs in: bubblewrap on Linux, a container engine, or (asked for) none.

A learner's notebook is arbitrary code. Each kernel therefore runs inside a sandbox made by an
existing, proven tool — **bubblewrap** (``bwrap``, the sandbox Flatpak uses) or a container engine
(**podman** / **docker**) — behind one small interface (:class:`Sandbox`):

* its own user namespace, as ``nobody`` (uid :data:`SANDBOX_UID`), never the grader's uid inside;
  when the grader runs as root, the kernel is ``nobody`` on the host too (bubblewrap is started
  with root's rights only to build the view, then ``setpriv`` drops to :data:`SANDBOX_UID` before
  the user namespace is made); further user namespaces are disabled inside (``--disable-userns``);
* its own PID namespace: the kernel and everything it starts live under the sandbox's init;
  when the sandbox ends (its launcher exits or is killed, the grader dies: ``--die-with-parent``)
  the kernel kills every process in it; the grader's processes and ``/proc`` are not visible;
* no network (a new network namespace with only its own loopback), its own IPC and host name;
* read-only: the system (``/usr``, a few files of ``/etc``), the Python installation and the
  virtual environment, the course library (``utils/``, its ``__pycache__`` folders hidden behind
  empty ones, so no bytecode planted there is ever loaded) and the asset folders;
* writable: one private tmpfs of bounded size for ``HOME``, ``TMPDIR``, caches and the work folder
  (``/home/learner``), a small ``/dev/shm``, and the kernel's socket folder — a folder the grader
  made for this kernel alone, where jupyter_client's ``ipc`` transport puts its Unix sockets;
* nothing else of the host: no other submission, no solution notebook, no results, no home
  folder of the instructor.

:func:`make_sandbox` picks one (``bubblewrap``, ``podman``, ``docker`` or ``none``) and checks it
works here before the first kernel starts (:meth:`Sandbox.check`); where none can be made it
refuses with one line saying how to get one. ``none`` (``--no-sandbox``) runs kernels as the
grader's user with only the limits and private folders; :data:`UNCONTAINED` says what that leaves
open. :func:`protect_grader` makes the grader's own process non-dumpable.

Example:
    >>> layout = Layout(read_only=(Path(sys.prefix),), writable=(), hidden=(), scratch_mib=64)
    >>> command = Bubblewrap(root=False).command(["python", "-c", "pass"], layout)
    >>> Path(command[0]).name, "--unshare-net" in command, "--disable-userns" in command, command[-3:]
    ('bwrap', True, True, ['python', '-c', 'pass'])
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from utils import config
from utils.assets import lookup
from utils.errors import UsageError

#: The uid and gid of learner code inside every sandbox (``nobody``), and on the host when the grader is root.
SANDBOX_UID = 65534

#: The learner's private, writable folder inside the sandbox (a tmpfs): HOME, work folder, caches, TMPDIR.
SANDBOX_HOME = Path("/home/learner")

#: What ``--no-sandbox`` leaves open (printed when grading starts without a sandbox).
UNCONTAINED = (
    "learner code runs as your user on this machine, with only the time/memory limits and private folders:",
    "it can read and change your files (other submissions on disk, the solution notebooks, the results folder,",
    "~/.ssh), reach the network, signal or read your other processes, and a process it starts can outlive grading.",
    "Grade untrusted submissions only in a sandbox (apt install bubblewrap) or a container (--sandbox podman|docker).",
)

#: Where to get a sandbox (the end of every refusal).
HOW_TO_GET_ONE = (
    "install bubblewrap (`apt install bubblewrap`, `dnf install bubblewrap`), or grade inside a "
    "container (--sandbox podman|docker --container-image IMAGE), or pass --no-sandbox to run "
    "learner code unconfined"
)

#: Files of ``/etc`` a Python kernel needs (read-only when present); the rest of ``/etc`` stays out.
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "fonts",
    "nsswitch.conf",
    "hosts",
    "mime.types",
    "alternatives",
)

#: Oldest bubblewrap with every option used here (``--disable-userns`` and ``--size`` came in 0.8.0).
MINIMUM_BUBBLEWRAP = (0, 8, 0)

#: Top-level system folders: bound read-only, or recreated as the same symbolic link (merged /usr).
SYSTEM_FOLDERS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")

#: Where the sandbox mounts its own procfs (bubblewrap's ``--proc``); the grader never reads the host's.
_PROCFS = "/proc"


@dataclasses.dataclass(frozen=True)
class Layout:
    """What of the host one kernel's sandbox sees.

    Attributes:
        read_only: host files and folders visible read-only at the same path (Python, the
            virtual environment, the course library, the asset folders).
        writable: host folders visible read-write at the same path (the kernel's socket folder).
        hidden: folders inside ``read_only`` ones replaced by an empty private folder (the
            library's ``__pycache__``: bytecode found there is never loaded by a kernel).
        scratch_mib: size of the private tmpfs (:data:`SANDBOX_HOME`); ``/dev/shm`` gets a quarter.
        files: ``(host file, path inside)`` pairs bound read-only (``/etc/passwd`` naming ``nobody``).
    """

    read_only: tuple[Path, ...]
    writable: tuple[Path, ...]
    hidden: tuple[Path, ...] = ()
    scratch_mib: int = 1024
    files: tuple[tuple[Path, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class KernelPaths:
    """The private folders of one kernel as the kernel sees them.

    Attributes:
        home: ``HOME``; caches and configuration folders go below it.
        tmp: ``TMPDIR``.
        work: the working folder (the notebook's current folder).
        outputs: ``COURSE_OUTPUTS`` (what the course's code writes).
    """

    home: Path
    tmp: Path
    work: Path
    outputs: Path

    @classmethod
    def below(cls, home: Path) -> KernelPaths:
        """The standard folders below ``home``.

        Example:
            >>> KernelPaths.below(Path("/home/learner")).tmp
            PosixPath('/home/learner/tmp')
        """
        return cls(home, home / "tmp", home / "work", home / "outputs")


def python_paths() -> list[Path]:
    """The folders the kernel's Python needs: the installation, the virtual environment, both as named and real.

    Example:
        >>> Path(sys.prefix) in python_paths()
        True
    """
    found = []
    for path in (Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).parent):
        for variant in (path, path.resolve()):
            if variant not in found:
                found.append(variant)
    return found


def asset_paths(repo: Path = config.REPO_ROOT) -> list[Path]:
    """The folders the course's assets are read from (``$COURSE_ASSETS``, ``../shared``, the cache's
    ``weights/`` and ``datasets/``), only those that exist; never the whole checkout."""
    found = []
    for root in lookup.search_roots():
        root = Path(root)
        candidates = [root / "weights", root / "datasets"] if root.resolve() == repo.resolve() else [root]
        found.extend(path for path in candidates if path.is_dir())
    return found


def library_caches(library: Path) -> list[Path]:
    """Every ``__pycache__`` folder under the course library (hidden from kernels)."""
    if not library.is_dir():
        return []
    return sorted(path for path in library.rglob("__pycache__") if path.is_dir() and not path.is_symlink())


def kernel_layout(socket_folder: Path, scratch_mib: int, files=(), library: Path | None = None) -> Layout:
    """The layout of one kernel: Python, the library (bytecode hidden), the assets; its socket folder writable.

    Args:
        socket_folder: the kernel's own socket folder (writable, same path inside).
        scratch_mib: size of its private tmpfs.
        files: ``(host file, path inside)`` pairs bound read-only.
        library: the course library folder (default: the checkout's ``utils/``).
    """
    library = library or config.REPO_ROOT / "utils"
    read_only = [*python_paths(), library, *asset_paths()]
    return Layout(tuple(read_only), (socket_folder,), tuple(library_caches(library)), scratch_mib, tuple(files))


def protect_grader() -> bool:
    """Make this process non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``): no process of the same user can
    then open its ``/proc/<pid>/mem`` or ``environ`` or attach a debugger. Linux only; returns whether it did.

    Example:
        >>> protect_grader() in (True, False)
        True
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        return False


class Sandbox:
    """The interface every sandbox has; :class:`NoSandbox` is the degenerate one.

    Attributes:
        name: ``"bubblewrap"``, ``"podman"``, ``"docker"`` or ``"none"``.
        contained: whether learner code is confined at all.
        watches_processes: whether the sandbox's processes are children of the grader (psutil can
            watch their memory and CPU time); a container's belong to the engine.
    """

    name = "none"
    contained = False
    watches_processes = True

    def check(self) -> None:
        """Raise :class:`~utils.errors.UsageError` (one line, how to get a sandbox) where this one cannot run."""

    def command(self, argv: list[str], layout: Layout, name: str = "") -> list[str]:
        """The command that runs ``argv`` (the kernel's launcher) inside the sandbox."""
        return list(argv)

    def kernel_paths(self, folder: Path) -> KernelPaths:
        """The kernel's private folders as it sees them (made on the host below ``folder`` when there is no sandbox)."""
        return KernelPaths.below(folder / "home")

    def prepare_writable(self, path: Path) -> None:
        """Give the sandbox's user (and only it) the host folder or file ``path`` it must write."""

    def stop(self, name: str) -> None:
        """End the sandbox ``name`` (only where its processes are not the grader's children)."""

    def interrupt(self, name: str) -> bool:
        """Deliver SIGINT to the kernel of sandbox ``name`` by the sandbox's own means (False: not needed)."""
        return False

    def describe(self) -> str:
        """One line for the grader's start-up message."""
        return "no sandbox"


class NoSandbox(Sandbox):
    """``--no-sandbox``: kernels run as the grader's user with only the limits and private folders."""

    def describe(self) -> str:
        return "NO SANDBOX: " + " ".join(UNCONTAINED)


class Bubblewrap(Sandbox):
    """Each kernel in a bubblewrap sandbox (see the module docstring).

    Args:
        executable: the ``bwrap`` program (default: found on PATH).
        root: whether the grader runs as root (default: asked). As root the view is built with
            root's rights (an outer bubblewrap without a user namespace: it can reach a Python
            installed under ``/root``), ``setpriv`` then becomes :data:`SANDBOX_UID` with no
            capability left, and an inner bubblewrap makes the user namespace (it needs the right to
            mount: a container without ``CAP_SYS_ADMIN`` cannot). As any other user, one
            unprivileged bubblewrap does everything.
        setpriv: the ``setpriv`` program (util-linux), used as root only.
    """

    name = "bubblewrap"
    contained = True

    def __init__(self, executable: str | None = None, root: bool | None = None, setpriv: str | None = None):
        self.executable = executable or shutil.which("bwrap") or "bwrap"
        self.setpriv = setpriv or shutil.which("setpriv") or "setpriv"
        self.root = (os.geteuid() == 0) if root is None else bool(root)
        self.strategy = "privileged" if self.root else "user"
        self._checked = False

    # -- the command ---------------------------------------------------------------------------

    @staticmethod
    def _namespaces(user: bool, pid: bool = True) -> list[str]:
        flags = ["--unshare-pid"] * pid + ["--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if user:
            flags = [
                "--unshare-user",
                "--disable-userns",
                "--uid",
                str(SANDBOX_UID),
                "--gid",
                str(SANDBOX_UID),
                *flags,
                "--hostname",
                "sandbox",
            ]
        return flags + ["--die-with-parent"]

    @staticmethod
    def _system() -> list[str]:
        args = []
        for name in SYSTEM_FOLDERS:
            path = Path("/") / name
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        args += ["--dir", "/etc"]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        args += [
            "--dir",
            "/sys",
            "--dir",
            "/sys/devices",
            "--dir",
            "/sys/devices/system",
            "--ro-bind-try",
            "/sys/devices/system/cpu",
            "/sys/devices/system/cpu",
        ]  # core counts for TF/BLAS
        return args

    @staticmethod
    def _views(layout: Layout) -> list[str]:
        """Read-only and writable host paths at the same path inside, their parents made first (mode 0755)."""
        args: list[str] = []
        made = {Path("/"), Path("/etc"), *(Path("/") / name for name in SYSTEM_FOLDERS)}
        bound: list[Path] = []

        def covered(path: Path) -> bool:
            return any(path == parent or parent in path.parents for parent in bound)

        def parents(path: Path) -> None:
            for parent in reversed(path.parents):
                if parent not in made and not covered(parent):
                    args.extend(["--dir", str(parent)])
                    made.add(parent)

        views = [(path, "--ro-bind") for path in layout.read_only] + [(path, "--bind") for path in layout.writable]
        for path, flag in sorted(views, key=lambda view: len(view[0].parts)):
            if covered(path) and flag == "--ro-bind":
                continue
            if not path.exists():
                continue
            parents(path)
            args += [flag, str(path), str(path)]
            bound.append(path)
        for path in layout.hidden:  # empty, read-only: no bytecode from the checkout
            args += ["--tmpfs", str(path), "--remount-ro", str(path)]
        for host, inside in layout.files:
            args += ["--ro-bind", str(host), inside]
        return args

    @staticmethod
    def _mount_points() -> list[str]:
        """The folder the private tmpfs is mounted on (made where the root is still writable)."""
        return ["--dir", str(SANDBOX_HOME.parent), "--dir", str(SANDBOX_HOME), "--dir", "/tmp"]

    @staticmethod
    def _private(layout: Layout, proc: bool = True) -> list[str]:
        """procfs, /dev, the bounded tmpfs of the kernel (HOME, TMPDIR, work folder), its working folder."""
        paths = KernelPaths.below(SANDBOX_HOME)
        shm = max(16, layout.scratch_mib // 4) * 2**20
        return ["--proc", _PROCFS] * proc + [
            "--dev",
            "/dev",
            "--size",
            str(shm),
            "--perms",
            "01777",
            "--tmpfs",
            "/dev/shm",
            "--size",
            str(layout.scratch_mib * 2**20),
            "--perms",
            "0700",
            "--tmpfs",
            str(SANDBOX_HOME),
            *(arg for path in (paths.tmp, paths.work, paths.outputs) for arg in ("--dir", str(path))),
            "--remount-ro",
            "/",
            "--chdir",
            str(paths.work),
        ]

    def command(self, argv: list[str], layout: Layout, name: str = "") -> list[str]:
        """The bwrap command line that runs ``argv`` as :data:`SANDBOX_UID` in ``layout``.

        Example:
            >>> command = Bubblewrap(root=True).command(["python"], Layout((Path(sys.prefix),), ()))
            >>> sum(Path(word).name == "bwrap" for word in command), command[command.index("--reuid") + 1]
            (2, '65534')
        """
        views = self._system() + self._views(layout) + self._mount_points()
        if self.strategy == "user":
            return [
                self.executable,
                *self._namespaces(user=True),
                "--new-session",
                *views,
                *self._private(layout),
                "--",
                *argv,
            ]
        drop = [
            self.setpriv,
            "--reuid",
            str(SANDBOX_UID),
            "--regid",
            str(SANDBOX_UID),
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]
        rebind = [arg for path in layout.writable if path.exists() for arg in ("--bind", str(path), str(path))]
        # The inner bubblewrap keeps the outer PID namespace and its procfs (a new procfs cannot be mounted
        # in a user namespace over one with read-only parts): the grader is not in it either way.
        inner = [
            self.executable,
            *self._namespaces(user=True, pid=False),
            "--new-session",
            "--ro-bind",
            "/",
            "/",
            *rebind,
            *self._private(layout, proc=False),
            "--",
            *argv,
        ]
        return [
            self.executable,
            *self._namespaces(user=False),
            *views,
            "--proc",
            _PROCFS,
            "--dev",
            "/dev",
            "--cap-add",
            "CAP_SETUID",
            "--cap-add",
            "CAP_SETGID",
            "--",
            *drop,
            *inner,
        ]

    def kernel_paths(self, folder: Path) -> KernelPaths:
        return KernelPaths.below(SANDBOX_HOME)

    def prepare_writable(self, path: Path) -> None:
        """As root, hand the socket folder (and the connection file in it) to :data:`SANDBOX_UID`, mode 0700/0600."""
        if self.strategy == "privileged":
            os.chown(path, SANDBOX_UID, SANDBOX_UID)
            os.chmod(path, 0o700 if path.is_dir() else 0o600)

    def describe(self) -> str:
        who = (
            f"uid {SANDBOX_UID} on this machine too"
            if self.root
            else "your uid on this machine, in its own user namespace"
        )
        return (
            f"each kernel in a bubblewrap sandbox ({self.executable}): uid {SANDBOX_UID} inside ({who}), "
            f"own PID, network, IPC namespaces, no network, read-only library"
        )

    # -- can it run here? -----------------------------------------------------------------------

    def _probe(self) -> str:
        """Run Python inside a throw-away sandbox; "" when it works, else bubblewrap's last line."""
        folder = Path(tempfile.mkdtemp(prefix="course-probe-"))
        try:
            sockets = folder / "s"
            sockets.mkdir()
            self.prepare_writable(sockets)
            layout = Layout(tuple(python_paths()), (sockets,), (), 16)
            code = f"import os, sys; sys.exit(0 if os.getuid() == {SANDBOX_UID} else 3)"
            done = subprocess.run(
                self.command([sys.executable, "-I", "-c", code], layout),
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
            if done.returncode == 0:
                return ""
            lines = (done.stderr or "").strip().splitlines()
            return lines[-1][:200] if lines else f"exit status {done.returncode}"
        except (OSError, subprocess.SubprocessError) as error:
            return f"{type(error).__name__}: {error}"[:200]
        finally:
            with contextlib.suppress(OSError):
                shutil.rmtree(folder)

    def version(self) -> tuple[int, ...] | None:
        """bubblewrap's version (``bwrap --version``), or None where it does not say.

        Example:
            >>> Bubblewrap(executable="/no/such/bwrap").version() is None
            True
        """
        try:
            words = subprocess.run(
                [self.executable, "--version"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
            ).stdout.split()
            return tuple(int(part) for part in words[-1].split("."))
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return None

    def check(self) -> None:
        """Refuse, in one line, where bubblewrap is missing, too old or cannot make a sandbox here.

        Raises:
            UsageError: no ``bwrap`` (or, as root, no ``setpriv``), a ``bwrap`` older than
                :data:`MINIMUM_BUBBLEWRAP`, or user namespaces are not allowed.
        """
        if self._checked:
            return
        if not sys.platform.startswith("linux"):
            raise UsageError(f"no sandbox for the learners' kernels: bubblewrap needs Linux; {HOW_TO_GET_ONE}")
        if shutil.which(self.executable) is None:
            raise UsageError(
                f"no sandbox for the learners' kernels: bubblewrap (bwrap) is not installed; {HOW_TO_GET_ONE}"
            )
        version = self.version()
        if version is not None and version < MINIMUM_BUBBLEWRAP:
            raise UsageError(
                f"no sandbox for the learners' kernels: bubblewrap {'.'.join(map(str, version))} is "
                f"too old (the grader needs {'.'.join(map(str, MINIMUM_BUBBLEWRAP))} or newer, as in "
                f"Debian 12 and Ubuntu 24.04); {HOW_TO_GET_ONE}"
            )
        if self.root and shutil.which(self.setpriv) is None:
            raise UsageError(
                f"no sandbox for the learners' kernels: setpriv (util-linux) is missing, so the kernel "
                f"cannot leave root; {HOW_TO_GET_ONE}"
            )
        problem = self._probe()
        if problem:
            why = (
                "as root it needs the right to mount (CAP_SYS_ADMIN; a container rarely has it)"
                if self.root
                else "user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone, or on Ubuntu "
                "AppArmor's kernel.apparmor_restrict_unprivileged_userns"
            )
            raise UsageError(
                f"no sandbox for the learners' kernels: bubblewrap cannot make one here ({problem}; "
                f"{why}); {HOW_TO_GET_ONE}"
            )
        self._checked = True


class Container(Sandbox):
    """Each kernel in a container of ``podman`` or ``docker`` (one container per kernel).

    The container sees the same read-only paths as a bubblewrap sandbox (Python, the virtual
    environment and the library mounted from the host at the same paths, on top of ``image``'s
    system), its socket folder, and a bounded tmpfs as ``/home/learner``; it runs as
    :data:`SANDBOX_UID` (podman: your own uid, ``--userns keep-id``), with no network, no
    capability, ``no-new-privileges``, a pids limit and the memory limit set by the engine. Its
    processes belong to the engine, not to the grader: the engine's limits replace the grader's
    process watchdog, and the grader stops it by name. Linux only (Unix sockets do not cross a
    virtual machine's file sharing, as on macOS).

    Args:
        engine: ``"podman"`` or ``"docker"``.
        image: the image providing the system (C library); anything compatible with the host's.
        memory_mib: the container's memory limit.
        pids: the most processes in one container.
    """

    contained = True
    watches_processes = False

    def __init__(self, engine: str, image: str, memory_mib: int = 4096, pids: int = 512):
        if engine not in ("podman", "docker"):
            raise UsageError(f"unknown container engine {engine!r} (podman or docker)")
        if not image:
            raise UsageError(
                f"--sandbox {engine} needs --container-image IMAGE (an image with the same C library "
                f"as this machine, e.g. the distribution it runs)"
            )
        self.name, self.engine, self.image, self.memory_mib, self.pids = engine, engine, image, memory_mib, pids

    def _run(self, *arguments: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.engine, *arguments], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )

    def check(self) -> None:
        """Refuse, in one line, where the engine is missing or does not answer."""
        if shutil.which(self.engine) is None:
            raise UsageError(f"no sandbox for the learners' kernels: {self.engine} is not installed; {HOW_TO_GET_ONE}")
        try:
            answer = self._run("info")
        except (OSError, subprocess.SubprocessError) as error:
            raise UsageError(
                f"no sandbox for the learners' kernels: `{self.engine} info` failed "
                f"({type(error).__name__}); {HOW_TO_GET_ONE}"
            ) from None
        if answer.returncode != 0:
            lines = (answer.stderr or answer.stdout or "").strip().splitlines()
            raise UsageError(
                f"no sandbox for the learners' kernels: `{self.engine} info` failed "
                f"({lines[-1][:160] if lines else answer.returncode}); {HOW_TO_GET_ONE}"
            )

    def command(self, argv: list[str], layout: Layout, name: str = "") -> list[str]:
        """``<engine> run ...`` for ``argv`` in ``layout``.

        Example:
            >>> layout = Layout((Path(sys.prefix),), (), (), 256)
            >>> command = Container("docker", "debian:bookworm").command(["python"], layout, "k1")
            >>> "--network=none" in command, "--user=65534:65534" in command, f"--volume={sys.prefix}:{sys.prefix}:ro" in command
            (True, True, True)
        """
        home = SANDBOX_HOME
        paths = KernelPaths.below(home)
        user = (
            ["--userns=keep-id", f"--user={os.getuid()}:{os.getgid()}"]
            if self.engine == "podman"
            else [f"--user={SANDBOX_UID}:{SANDBOX_UID}"]
        )
        command = [
            self.engine,
            "run",
            "--rm",
            f"--name={name}",
            "--network=none",
            *user,
            "--cap-drop=ALL",
            "--security-opt=no-new-privileges",
            "--read-only",
            f"--pids-limit={self.pids}",
            f"--memory={self.memory_mib}m",
            f"--memory-swap={self.memory_mib}m",
            "--ipc=private",
            f"--tmpfs={home}:rw,size={layout.scratch_mib}m,mode=1777",
            f"--tmpfs=/dev/shm:rw,size={max(16, layout.scratch_mib // 4)}m,mode=1777",
            f"--workdir={home}",
        ]
        for path in layout.read_only:
            if path.exists():
                command.append(f"--volume={path}:{path}:ro")
        for path in layout.writable:
            command.append(f"--volume={path}:{path}:rw")
        for path in layout.hidden:
            command.append(f"--tmpfs={path}:ro")
        for host, inside in layout.files:
            command.append(f"--volume={host}:{inside}:ro")
        setup = " ".join(f"{folder}" for folder in (paths.tmp, paths.work, paths.outputs))
        return command + [
            "--entrypoint=/bin/sh",
            self.image,
            "-c",
            f'mkdir -p {setup} && cd {paths.work} && exec "$@"',
            "sh",
            *argv,
        ]

    def kernel_paths(self, folder: Path) -> KernelPaths:
        return KernelPaths.below(SANDBOX_HOME)

    def prepare_writable(self, path: Path) -> None:
        """The engine maps the container's user to another host uid (docker: 65534): let it write the socket
        folder; the folder's parent is the grader's own (mode 0700), so no other host user reaches it."""
        if self.engine == "docker":
            os.chmod(path, 0o777 if path.is_dir() else 0o644)

    def stop(self, name: str) -> None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self._run("rm", "--force", name, timeout=60)

    def interrupt(self, name: str) -> bool:
        """SIGINT to the container's first process (the launcher), which passes it to the kernel."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self._run("kill", "--signal=SIGINT", name, timeout=30)
        return True

    def describe(self) -> str:
        return f"each kernel in a {self.engine} container of {self.image}: no network, read-only library"


#: The choices of ``--sandbox``.
KINDS = ("bubblewrap", "podman", "docker", "none")


def make_sandbox(kind: str = "bubblewrap", image: str = "", memory_mib: int = 4096) -> Sandbox:
    """The sandbox ``kind`` (``"bwrap"`` is the same as ``"bubblewrap"``), checked to work here.

    Raises:
        UsageError: an unknown kind, or one that cannot run here (one line, how to get one).

    Example:
        >>> make_sandbox("none").contained
        False
    """
    kind = {"bwrap": "bubblewrap"}.get(kind, kind)
    if kind == "none":
        return NoSandbox()
    if kind == "bubblewrap":
        sandbox: Sandbox = Bubblewrap()
    elif kind in ("podman", "docker"):
        sandbox = Container(kind, image, memory_mib)
    else:
        raise UsageError(f"unknown sandbox {kind!r}: choose one of {', '.join(KINDS)}")
    sandbox.check()
    return sandbox
