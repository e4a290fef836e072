"""One learner kernel: a sandbox, a limited subprocess, private folders, a clean environment, a defensive client.

The kernel runs inside a sandbox (:mod:`utils.course.grading.sandbox`: bubblewrap, a container
engine, or none with ``--no-sandbox``), started through a small **launcher** (:data:`LAUNCHER`, run
with ``python -I``): it sets the per-process limits with ``resource`` where that module exists
(``RLIMIT_DATA``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE``, no core files), makes itself the *child
subreaper* of everything below it (Linux ``prctl(PR_SET_CHILD_SUBREAPER)`` through ``ctypes``;
without a sandbox, a process that double-forks or calls ``setsid`` is re-parented to it, not to
``init``), forks the kernel, passes the grader's SIGINT on to it, and waits. When the kernel ends,
the launcher kills every process left below it. Inside a sandbox the PID namespace does more:
when the launcher ends for any reason, every process of the sandbox ends. The grader itself
(:meth:`Kernel.close`) kills the whole tree with psutil, also every process it saw in the tree.

The grader watches the tree twice a second with psutil: memory counted as the processes use it
(the proportional set size, PSS, where the system reports it — Linux — else the unique set
size, USS: a page shared by a fork pool is counted once, not once per process) and CPU time;
past a limit the tree is killed. Every kernel gets its own ``HOME`` (caches, IPython, Keras and
matplotlib folders below it), ``TMPDIR`` and work folder — a bounded tmpfs inside the sandbox —
so nothing one kernel writes is read by another (not even the replacement kernel of the same
submission).

The kernel and the grader talk over jupyter_client's ``ipc`` transport: Unix sockets in a folder
made for that kernel alone (the only host folder its sandbox may write). The client reads the
kernel's messages itself (no nbclient): every message is checked before use, one that cannot be
decoded or has the wrong shape ends that submission as an error, and nothing the kernel prints
is kept. The zmq sockets refuse any message larger than :data:`MESSAGE_BYTES`, and a cell whose
messages together pass :data:`OUTPUT_BYTES` is stopped (the kernel is replaced): a flood costs
the grader bounded memory and time. Inside the kernel, what a cell prints is cut at
:data:`STREAM_CHARACTERS` (and its displays at :data:`DISPLAY_CHARACTERS`) before it is sent
(:data:`KERNEL_START`), so an honest cell that prints too much still completes.

Example:
    >>> from utils.course.grading.sandbox import KernelPaths
    >>> env = kernel_environment(KernelPaths.below(Path("/home/learner")), Limits(), {"PATH": "/bin", "GITHUB_TOKEN": "s3"})
    >>> env["HOME"], env["KERAS_HOME"], "GITHUB_TOKEN" in env
    ('/home/learner', '/home/learner/.keras', False)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from utils import config, files
from utils.course.grading.environment import PASSED_ENV
from utils.course.grading.sandbox import SANDBOX_HOME, SANDBOX_UID, KernelPaths, NoSandbox, Sandbox, kernel_layout
from utils.course.grading.text import clean_text
from utils.errors import GradingError, KernelLostError, KernelMessageError, UsageError

try:  # POSIX only; without it the watchdog alone enforces memory and CPU time (see Limits)
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None

#: Largest message the grader accepts from a kernel (bytes); zmq drops the connection past it.
MESSAGE_BYTES = 16 * 2**20

#: Most output (characters of text and display data) the grader reads from one cell; past it the
#: cell is a runaway: its kernel is replaced and grading goes on without it.
OUTPUT_BYTES = 32 * 2**20

#: What a cell may print (characters per cell) before the kernel itself cuts the rest.
STREAM_CHARACTERS = 1_000_000

#: What a cell may display (characters of display data per cell, observations aside) before the kernel cuts it.
DISPLAY_CHARACTERS = 8_000_000

#: How long a kernel may take to answer after an interrupt before it is replaced (seconds).
INTERRUPT_GRACE = 10

#: How often the watchdog measures the kernel's process tree (seconds).
WATCH_INTERVAL = 0.5

_KERNEL_NAME = "course-grader"
_QUIET = logging.getLogger("utils.course.grading.jupyter")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False

#: Sets the limits, becomes the child subreaper, forks the kernel, passes SIGINT on to it, waits (reaping
#: orphans), and when the kernel ends — or the grader dies — kills every process left below it.
#: argv: data-bytes cpu-seconds file-bytes kernel-argv...  (run with ``python -I``).
LAUNCHER = """\
import os, signal, sys, time
try:
    import resource
except ImportError:
    resource = None
data, cpu, size = (int(value) for value in sys.argv[1:4])
command = sys.argv[4:]
def cap(name, soft, hard=None):
    kind = getattr(resource, name, None)
    if kind is None:
        return
    current = resource.getrlimit(kind)[1]
    ceiling = soft if current == resource.RLIM_INFINITY else min(soft, current)
    hard = ceiling if hard is None else hard
    resource.setrlimit(kind, (ceiling, hard if current == resource.RLIM_INFINITY else min(hard, current)))
if resource is not None:
    cap("RLIMIT_DATA", data)
    cap("RLIMIT_CPU", cpu, cpu + 5)
    cap("RLIMIT_FSIZE", size)
    cap("RLIMIT_CORE", 0)
if sys.platform.startswith("linux"):
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass
kernel = os.fork()
if kernel == 0:
    try:
        os.execv(command[0], command)
    finally:
        os._exit(127)
def forward(number, frame):                       # the grader's interrupt is for the kernel
    try:
        os.kill(kernel, signal.SIGINT)
    except OSError:
        pass
signal.signal(signal.SIGINT, forward)
signal.signal(signal.SIGTERM, lambda number, frame: os.kill(kernel, signal.SIGTERM))
grader = os.getppid()
status = 0
while True:                                       # reap orphans; stop when the kernel or the grader is gone
    try:
        pid, code = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == kernel:
        status = code
        break
    if pid == 0:
        if os.getppid() != grader:
            status = signal.SIGKILL
            break
        time.sleep(0.2)
try:
    import psutil
    me = psutil.Process()
    for _ in range(100):
        left = me.children(recursive=True)
        if not left:
            break
        for process in left:
            try:
                process.kill()
            except psutil.Error:
                pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
except ImportError:
    pass
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
"""

#: Starts the IPython kernel (as ``python -m ipykernel_launcher`` does) after cutting, in the kernel,
#: what one cell may print (:data:`STREAM_CHARACTERS`) and display (:data:`DISPLAY_CHARACTERS`; the
#: grader's observations aside) and the size of an error: every message passes through the session's
#: ``send``. The learner's code can undo this; the grader's own limits (:data:`MESSAGE_BYTES`,
#: :data:`OUTPUT_BYTES`) do not depend on it. Formatted with the limits and the observation MIME type.
KERNEL_START = """\
import sys
from ipykernel.kernelapp import IPKernelApp
STREAM, DISPLAY, MIME = %(stream)d, %(display)d, %(mime)r
NOTE = "\\n[the grader cut this cell's output here: more than %%d characters]\\n"
def size(value, depth=0):
    if isinstance(value, (str, bytes)):
        return len(value)
    if depth > 4:
        return 64
    if isinstance(value, dict):
        return sum(len(str(key)) + size(item, depth + 1) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return sum(size(item, depth + 1) for item in value)
    return 16
def cap(session):
    spent, send = {}, session.send
    def trimmed(kind, content, parent):
        header = parent.get("header", parent) if isinstance(parent, dict) else {}
        key = header.get("msg_id") if isinstance(header, dict) else None
        if key not in spent and len(spent) > 64:
            spent.clear()
        text, shown = spent.get(key, (0, 0))
        if kind == "stream" and isinstance(content.get("text"), str):
            room = STREAM - text
            if len(content["text"]) > room:
                content = dict(content, text=content["text"][:max(room, 0)] + (NOTE %% STREAM if room >= 0 else ""))
                text = STREAM + 1
            else:
                text += len(content["text"])
        elif kind == "error":
            content = dict(content, evalue=str(content.get("evalue", ""))[:4000],
                           traceback=[str(line)[:2000] for line in list(content.get("traceback") or [])[-40:]])
        elif kind in ("display_data", "update_display_data", "execute_result") and isinstance(content.get("data"), dict):
            if MIME not in content["data"]:
                amount = size(content["data"])
                if shown + amount > DISPLAY:
                    content = dict(content, data={"text/plain": "[the grader cut a display of %%d characters]" %% amount},
                                   metadata={})
                else:
                    shown += amount
        spent[key] = (text, shown)
        return content
    def capped(stream, message, content=None, parent=None, *args, **kwargs):
        try:
            if isinstance(message, dict) and isinstance(message.get("content"), dict):
                message = dict(message, content=trimmed(message.get("msg_type") or message["header"]["msg_type"],
                                                        message["content"], message.get("parent_header")))
            elif isinstance(message, str) and isinstance(content, dict):
                content = trimmed(message, content, parent)
        except Exception:
            pass
        return send(stream, message, content, parent, *args, **kwargs)
    session.send = capped
if sys.path and sys.path[0] == "":
    del sys.path[0]
app = IPKernelApp.instance()
app.initialize()
cap(app.session)
app.start()
"""


@dataclasses.dataclass
class Limits:
    """What one submission may use, and how each limit is enforced on this platform.

    Attributes:
        cell_seconds: wall-clock time per cell (``--timeout``); the cell is interrupted after it.
        notebook_seconds: wall-clock time for the whole submission, kernel starts and restarts
            included (``--notebook-timeout``); cells after it are not run.
        memory_mib: memory of the kernel's process tree (``--memory``): PSS (or USS) summed over
            the tree, checked twice a second (the tree is killed past it); and each process's
            private data (``RLIMIT_DATA`` where ``resource`` exists: an allocation past it raises
            ``MemoryError`` and the kernel goes on).
        cpu_seconds: CPU time (``RLIMIT_CPU`` per process where ``resource`` exists, and the
            tree's total through the watchdog); None: the notebook limit times the usable cores.
        file_mib: largest file the kernel may write (``RLIMIT_FSIZE``; POSIX only).
        scratch_mib: size of the kernel's private tmpfs inside a sandbox (``--scratch``: HOME,
            TMPDIR, caches, work folder); ``/dev/shm`` gets a quarter of it. Memory the kernel's
            files take there is counted here, not in ``memory_mib``.
        fast: run the notebooks in fast mode (``COURSE_FAST=1``); the checks are the same.
    """

    cell_seconds: float = 300.0
    notebook_seconds: float = 1800.0
    memory_mib: int = 4096
    cpu_seconds: int | None = None
    file_mib: int = 2048
    scratch_mib: int = 1024
    fast: bool = True

    def cpu_limit(self) -> int:
        """The CPU-time limit in seconds."""
        if self.cpu_seconds is not None:
            return int(self.cpu_seconds)
        return int(math.ceil(self.notebook_seconds * usable_cores())) + 60


def usable_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return psutil.cpu_count() or 1


def check_platform() -> None:
    """Refuse, with one line, a platform where the limits cannot all be enforced.

    Raises:
        UsageError: no ``fork`` (Windows: run the grader in WSL or a Linux container), no
            ``resource`` module (the file-size limit would do nothing), or psutil cannot measure a
            process's unique memory here.
    """
    if not hasattr(os, "fork") or resource is None:
        raise UsageError(
            "the grader needs POSIX process control (fork, signals, resource limits); on Windows "
            "run it in WSL or a Linux container"
        )
    try:
        info = psutil.Process().memory_full_info()
    except (psutil.Error, NotImplementedError, AttributeError) as error:
        raise UsageError(
            f"psutil cannot measure process memory on this system ({type(error).__name__}), so the "
            f"memory limit could not be enforced; grade on Linux or macOS"
        ) from None
    if not getattr(info, "uss", 0):
        raise UsageError(
            "psutil reports no unique memory on this system, so the memory limit could not be "
            "enforced; grade on Linux or macOS"
        )


def kernel_environment(paths: KernelPaths, limits: Limits, environ=None) -> dict[str, str]:
    """The kernel's environment: :data:`PASSED_ENV` from ``environ`` and its private folders.

    Args:
        paths: the kernel's folders as it sees them (``HOME``; IPython, Keras, matplotlib, XDG and
            Jupyter folders below it; ``TMPDIR``; ``COURSE_OUTPUTS``).
        limits: for ``COURSE_FAST``.
        environ: the variables to pick from (default: this process's).
    """
    environ = os.environ if environ is None else environ
    env = {name: environ[name] for name in PASSED_ENV if name in environ}
    home = paths.home
    env.update(
        {
            "HOME": str(home),
            "USER": "learner",
            "LOGNAME": "learner",
            "TMPDIR": str(paths.tmp),
            "IPYTHONDIR": str(home / ".ipython"),
            "KERAS_HOME": str(home / ".keras"),
            "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
            "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(home / ".local" / "share" / "jupyter" / "runtime"),
            "PYTHONPATH": str(config.REPO_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLBACKEND": "Agg",
            config.FAST_ENV_VAR: "1" if limits.fast else "0",
            config.OUTPUTS_ENV_VAR: str(paths.outputs),
        }
    )
    return env


#: ``/etc/passwd`` and ``/etc/group`` inside a sandbox: the learner is ``learner`` (:data:`SANDBOX_UID`).
PASSWD = f"learner:x:{SANDBOX_UID}:{SANDBOX_UID}:learner:{SANDBOX_HOME}:/usr/sbin/nologin\n"
GROUP = f"learner:x:{SANDBOX_UID}:\n"

#: Longest Unix socket path (``sun_path`` holds 108 bytes on Linux, 104 on macOS), with room for the port.
_SOCKET_PATH_LIMIT = 90


def socket_folder(parent: Path) -> Path:
    """A new folder for one kernel's Unix sockets: ``parent/sockets``, or a short one in the system's
    temporary folder when that path would be too long for a socket (deep ``$TMPDIR``)."""
    folder = parent / "sockets"
    if len(str(folder)) > _SOCKET_PATH_LIMIT:
        folder = Path(tempfile.mkdtemp(prefix="cg-", dir="/tmp" if Path("/tmp").is_dir() else None))
        return folder
    folder.mkdir(mode=0o700)
    return folder


@dataclasses.dataclass
class Outcome:
    """What running one cell gave.

    Attributes:
        kind: ``"ok"``, ``"error"`` (the cell raised), ``"timeout"``, ``"died"`` or ``"malformed"``
            (the kernel sent a message the grader cannot trust: the submission ends as an error).
        error: ``"Name: value"`` of the cell's exception (cut, control characters removed).
        error_name: the exception's class name.
        payloads: the values of the observation MIME type the cell published (at most 16 kept).
        payload_count: how many it published.
        responsive: after a timeout: did the kernel answer the interrupt?
        reason: after a death or a malformed message: why.
    """

    kind: str
    error: str = ""
    error_name: str = ""
    payloads: list = dataclasses.field(default_factory=list)
    payload_count: int = 0
    responsive: bool = True
    reason: str = ""


def _text(value, limit: int) -> str:
    return clean_text(value, limit)


class Kernel:
    """One kernel for one submission: start it in its sandbox, run a cell with a time limit, watch the tree, close.

    Args:
        folder: a new, empty folder of the grader's for this kernel (kernel spec, log, socket folder).
        limits: the limits.
        mime: the MIME type whose values a cell's display messages may carry back.
        sandbox: where the kernel runs (default: no sandbox; the runner passes the checked one).
    """

    def __init__(self, folder: Path, limits: Limits, mime: str, sandbox: Sandbox | None = None):
        self.folder, self.limits, self.mime = folder, limits, mime
        self.sandbox = sandbox or NoSandbox()
        self.name = f"course-kernel-{os.getpid()}-{id(self):x}"
        self.sockets: Path | None = None
        self.manager: AsyncKernelManager | None = None
        self.client = None
        self.context: zmq.asyncio.Context | None = None
        self.watchdog: asyncio.Task | None = None
        self.launcher: psutil.Process | None = None
        self.seen: dict[int, psutil.Process] = {}
        self.stopped_for = ""
        self.peak_bytes = 0
        self.peak_data_bytes = 0
        self.log = None
        self.monitors: list = []
        self.launcher_argv: list[str] = []

    def _prepare(self) -> tuple[list[str], KernelPaths, Path]:
        """Make the kernel's folders; returns (kernel spec argv, the kernel's paths, the host folder to start in)."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.sockets = socket_folder(self.folder)
        self.sandbox.prepare_writable(self.sockets)
        paths = self.sandbox.kernel_paths(self.folder)
        files_inside = ()
        if self.sandbox.contained:
            files.write_text(self.folder / "passwd", PASSWD)
            files.write_text(self.folder / "group", GROUP)
            for name in ("passwd", "group"):
                os.chmod(self.folder / name, 0o644)
            files_inside = ((self.folder / "passwd", "/etc/passwd"), (self.folder / "group", "/etc/group"))
            start_in = self.folder
        else:
            for path in (paths.home, paths.tmp, paths.work, paths.outputs):
                path.mkdir(parents=True, exist_ok=True)
            start_in = paths.work
        data, cpu, size = self.limits.memory_mib * 2**20, self.limits.cpu_limit(), self.limits.file_mib * 2**20
        flags = ["-s"] + (["-P"] if sys.version_info >= (3, 11) else [])
        start = KERNEL_START % {"stream": STREAM_CHARACTERS, "display": DISPLAY_CHARACTERS, "mime": self.mime}
        self.launcher_argv = [sys.executable, "-I", "-c", LAUNCHER]
        argv = (
            self.launcher_argv
            + [str(data), str(cpu), str(size), sys.executable]
            + flags
            + ["-c", start, "-f", str(self.sockets / "kernel.json")]
        )
        layout = kernel_layout(self.sockets, self.limits.scratch_mib, files_inside)
        return self.sandbox.command(argv, layout, self.name), paths, start_in

    async def start(self, timeout: float) -> None:
        """Start the kernel in its sandbox and wait until it answers (at most ``timeout`` seconds).

        Raises:
            GradingError: the kernel did not start (the message ends with the kernel log's last line).
        """
        argv, paths, start_in = self._prepare()
        spec = {
            "argv": argv,
            "display_name": "Python 3 (course grader)",
            "language": "python",
            "interrupt_mode": "signal",
        }
        files.write_text(self.folder / "spec" / _KERNEL_NAME / "kernel.json", json.dumps(spec))
        specs = KernelSpecManager(kernel_dirs=[str(self.folder / "spec")], ensure_native_kernel=False)
        self.context = zmq.asyncio.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MESSAGE_BYTES)
        self.manager = AsyncKernelManager(
            kernel_name=_KERNEL_NAME,
            kernel_spec_manager=specs,
            log=_QUIET,
            context=self.context,
            transport="ipc",
            ip=str(self.sockets / "k"),
            connection_file=str(self.sockets / "kernel.json"),
        )
        self.manager.write_connection_file()  # before the start: handed to the sandbox's user first
        self.sandbox.prepare_writable(self.sockets / "kernel.json")
        env = kernel_environment(paths, self.limits)
        # The kernel's own stderr (start-up failures, C-level crashes, the sandbox's errors) goes to a log in
        # its folder, never to the grader's terminal; what learner code prints arrives over zmq and is dropped.
        self.log = open(self.folder / "kernel.log", "ab")
        await self.manager.start_kernel(cwd=str(start_in), env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        with contextlib.suppress(psutil.Error):
            self.launcher = psutil.Process(self.manager.provisioner.pid)
        self.watchdog = asyncio.ensure_future(self._watch())
        self.client = self.manager.client(context=self.context)
        self.client.allow_stdin = False
        self.client.start_channels()
        self.monitors = [
            self.client.iopub_channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED),
            self.client.shell_channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED),
        ]
        try:
            await asyncio.wait_for(self.client.wait_for_ready(timeout=timeout), timeout + 5)
        except (TimeoutError, RuntimeError) as error:
            raise GradingError(f"the grading kernel did not start: {error or 'timed out'}{self._log_tail()}") from None

    def interrupt(self) -> None:
        """SIGINT to the launcher (which passes it to the kernel): a container by its engine, else the
        launcher found in the tree by its command line (the sandbox's own processes are above it)."""
        if self.sandbox.interrupt(self.name):
            return
        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                if process.cmdline()[: len(self.launcher_argv)] == self.launcher_argv:
                    process.send_signal(signal.SIGINT)
                    return

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = (self.folder / "kernel.log").read_text(errors="replace").strip().splitlines()
            if lines:
                return f" (kernel log: {_text(lines[-1], 300)})"
        return ""

    # -- the process tree ---------------------------------------------------------------------

    def tree(self) -> list[psutil.Process]:
        """The launcher and every process below it (the kernel and whatever it started)."""
        if self.launcher is None:
            return []
        try:
            processes = [self.launcher] + self.launcher.children(recursive=True)
        except psutil.Error:
            return []
        for process in processes:
            self.seen.setdefault(process.pid, process)
        return processes

    @staticmethod
    def _memory(process: psutil.Process) -> tuple[int, int]:
        """(bytes the process uses — PSS, else USS, else RSS —, its private data in bytes)."""
        try:
            info = process.memory_full_info()
            used = getattr(info, "pss", 0) or getattr(info, "uss", 0) or info.rss
            return used, getattr(info, "data", 0)
        except psutil.AccessDenied:
            with contextlib.suppress(psutil.Error):
                return process.memory_info().rss, 0
        except psutil.Error:
            pass
        return 0, 0

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            return times.user + times.system + getattr(times, "children_user", 0) + getattr(times, "children_system", 0)
        return 0.0

    def measure(self) -> tuple[int, float]:
        """(memory in bytes, CPU seconds) of the tree now; updates the peaks."""
        used = cpu = 0.0
        for process in self.tree():
            memory, data = self._memory(process)
            used += memory
            cpu += self._cpu(process)
            self.peak_data_bytes = max(self.peak_data_bytes, data)
        self.peak_bytes = max(self.peak_bytes, int(used))
        return int(used), cpu

    async def _watch(self) -> None:
        memory_limit = self.limits.memory_mib * 2**20
        cpu_limit = self.limits.cpu_limit()
        while self.launcher is not None:
            used, cpu = self.measure()
            if used > memory_limit:
                self.stopped_for = (
                    f"the kernel used more than the memory limit of {self.limits.memory_mib} MiB and was stopped"
                )
            elif cpu > cpu_limit:
                self.stopped_for = f"the kernel reached the CPU-time limit of {cpu_limit} s"
            if self.stopped_for:
                self.kill_tree()
                return
            await asyncio.sleep(WATCH_INTERVAL)

    def kill_tree(self) -> None:
        """Kill every process of the tree, whatever session or group it moved to, the launcher last."""
        for _ in range(100):
            below = [process for process in self.tree() if process is not self.launcher]
            below += [
                process
                for pid, process in self.seen.items()
                if process not in below and process is not self.launcher and process.is_running()
            ]
            if not below:
                break
            for process in below:
                with contextlib.suppress(psutil.Error):
                    process.kill()
            psutil.wait_procs(below, timeout=0.5)
        if self.launcher is not None:
            with contextlib.suppress(psutil.Error):
                self.launcher.kill()
            with contextlib.suppress(psutil.Error):
                self.launcher.wait(timeout=5)

    async def alive(self) -> bool:
        """Is the launcher (so the kernel) still running?"""
        if self.manager is None:
            return False
        with contextlib.suppress(Exception):
            return bool(await self.manager.is_alive())
        return False

    # -- running a cell -----------------------------------------------------------------------

    async def _next(self, timeout: float):
        """The next message on iopub or shell within ``timeout`` s, as ``(channel, message)``, or None.

        Raises:
            KernelMessageError: a message that cannot be decoded, is not signed, or has the wrong shape.
        """
        channels = (("iopub", self.client.iopub_channel), ("shell", self.client.shell_channel))
        poller = zmq.asyncio.Poller()
        for _, channel in channels:
            poller.register(channel.socket, zmq.POLLIN)
        for monitor in self.monitors:
            poller.register(monitor, zmq.POLLIN)
        ready = dict(await poller.poll(max(0, int(timeout * 1000))))
        if any(monitor in ready for monitor in self.monitors):
            for _ in range(20):  # a kernel that exits drops its connections too
                if not await self.alive():
                    raise KernelLostError()  # why: death_reason()
                await asyncio.sleep(0.1)
            raise KernelLostError(
                f"the kernel sent a message larger than {MESSAGE_BYTES // 2**20} MiB or dropped its "
                f"connection (the kernel was replaced)"
            )
        for name, channel in channels:
            if channel.socket in ready:
                try:
                    message = await channel.get_msg(timeout=0)
                except Exception as error:  # the kernel's bytes: any decoding error means distrust
                    raise KernelMessageError(
                        f"the kernel sent a message that cannot be decoded ({type(error).__name__}: "
                        f"{_text(str(error), 200)})"
                    ) from None
                return name, _validated(message)
        return None

    async def run(self, source: str, seconds: float) -> Outcome:
        """Run one cell with a wall-clock limit of ``seconds``.

        A cell that runs out of time is interrupted (SIGINT); the kernel is "responsive" when it
        answers within :data:`INTERRUPT_GRACE` seconds. Only errors and observation payloads are
        kept from the cell's output.
        """
        try:
            message_id = self.client.execute(source, store_history=True, allow_stdin=False, stop_on_error=False)
            outcome = Outcome("ok")
            finished = await self._collect(message_id, outcome, time.monotonic() + seconds)
            if finished:
                return outcome
            if not await self.alive():
                return Outcome("died", reason=await self.death_reason())
            self.interrupt()
            responsive = await self._collect(message_id, Outcome("ok"), time.monotonic() + INTERRUPT_GRACE)
            if not responsive:
                responsive = await self._answers(INTERRUPT_GRACE)
            return Outcome("timeout", responsive=responsive)
        except KernelMessageError as error:
            return Outcome("malformed", reason=str(error))
        except KernelLostError as error:
            return Outcome("died", reason=str(error) or await self.death_reason())

    async def _collect(self, message_id: str, outcome: Outcome, deadline: float) -> bool:
        """Read messages until the cell's reply and its "idle" status arrived (True) or ``deadline`` (False)."""
        replied = idle = False
        last_check = time.monotonic()
        received_bytes = 0
        while not (replied and idle):
            now = time.monotonic()
            if now >= deadline:
                return False
            received = await self._next(min(0.25, deadline - now))
            if now - last_check > 1.0 or received is None:
                last_check = now
                if not await self.alive():
                    raise KernelLostError()
            if received is None:
                continue
            channel, message = received
            if channel == "iopub":  # every message counts, whoever it claims to answer
                received_bytes += _output_size(message["content"])
                if received_bytes > OUTPUT_BYTES:
                    raise KernelLostError(
                        f"the cell printed more than {OUTPUT_BYTES // 2**20} MiB (the kernel was replaced)"
                    )
            if message["parent_header"].get("msg_id") != message_id:
                continue  # an earlier cell's late message, or the learner's own
            kind, content = message["header"]["msg_type"], message["content"]
            if channel == "shell":
                if kind == "execute_reply":
                    if content.get("status") not in ("ok", "error", "aborted"):
                        raise KernelMessageError(
                            f"the kernel sent a reply with the status {_text(content.get('status'), 40)!r}"
                        )
                    replied = True
                continue
            if kind == "status":
                idle = content.get("execution_state") == "idle"
            elif kind == "error":
                if not outcome.error:
                    outcome.kind = "error"
                    outcome.error_name = _text(content.get("ename", ""), 200)
                    value = _text(content.get("evalue", ""), 4000)
                    outcome.error = f"{outcome.error_name}: {value}" if value else outcome.error_name
            elif kind in ("display_data", "execute_result", "update_display_data"):
                data = content.get("data")
                if isinstance(data, dict) and self.mime in data:
                    outcome.payload_count += 1
                    if len(outcome.payloads) < 16:
                        outcome.payloads.append(data[self.mime])
        return True

    async def _answers(self, seconds: float) -> bool:
        """Does the kernel answer a ``kernel_info`` request within ``seconds``?"""
        try:
            message_id = self.client.kernel_info()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                received = await self._next(0.25)
                if received and received[0] == "shell" and received[1]["parent_header"].get("msg_id") == message_id:
                    return True
                if received is None and not await self.alive():
                    return False
        except (KernelMessageError, KernelLostError):
            return False
        return False

    async def death_reason(self) -> str:
        """Why the kernel is gone: the watchdog's limit, a signal (SIGXCPU: the CPU limit) or an exit."""
        await asyncio.sleep(0.1)
        if self.stopped_for:
            return self.stopped_for
        process = getattr(self.manager.provisioner, "process", None) if self.manager else None
        code = process.poll() if process is not None else None
        if code is not None and code > 128 and self.sandbox.contained:
            code = 128 - code  # a sandbox exits 128 + N when its command died of signal N
        if code is not None and code < 0:
            number = -code
            if number == getattr(signal, "SIGXCPU", None):
                return f"the kernel reached the CPU-time limit of {self.limits.cpu_limit()} s"
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            return f"the kernel died ({name})"
        return f"the kernel exited (status {code})" if code is not None else "the kernel died"

    async def close(self) -> None:
        """Stop the watchdog, kill the whole tree, release the sockets (safe to call twice)."""
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        self.kill_tree()
        if self.client is not None:
            for channel in (self.client.iopub_channel, self.client.shell_channel):
                with contextlib.suppress(Exception):
                    channel.socket.disable_monitor()
            for monitor in self.monitors:
                with contextlib.suppress(Exception):
                    monitor.close(linger=0)
            self.monitors = []
            with contextlib.suppress(Exception):
                self.client.stop_channels()
        if self.manager is not None:
            with contextlib.suppress(Exception):
                await self.manager.shutdown_kernel(now=True)
        if self.context is not None:
            with contextlib.suppress(Exception):
                self.context.destroy(linger=0)
        if self.log is not None:
            self.log.close()
        if not self.sandbox.watches_processes:
            self.sandbox.stop(self.name)
        if self.sockets is not None and self.folder not in self.sockets.parents:
            shutil.rmtree(self.sockets, ignore_errors=True)
        self.manager = self.client = self.log = self.context = None
        self.launcher = None


def _output_size(content) -> int:
    """About how many characters a message's content carries (text, data, traceback), cheaply."""
    total = 0
    for key in ("text", "data", "evalue", "traceback"):
        value = content.get(key)
        if isinstance(value, str):
            total += len(value)
        elif isinstance(value, dict):
            total += sum(
                len(item) if isinstance(item, str) else len(str(item)[:MESSAGE_BYTES]) for item in value.values()
            )
        elif isinstance(value, list):
            total += sum(len(item) for item in value if isinstance(item, str))
    return total


def _validated(message) -> dict:
    """The message if it has the shape of a Jupyter message (dict header with a str msg_type, dict
    parent_header and content); else :class:`KernelMessageError`."""
    if not isinstance(message, dict):
        raise KernelMessageError("the kernel sent something that is not a message")
    header, parent, content = message.get("header"), message.get("parent_header"), message.get("content")
    if not (
        isinstance(header, dict)
        and isinstance(header.get("msg_type"), str)
        and isinstance(parent, dict)
        and isinstance(content, dict)
    ):
        raise KernelMessageError(
            f"the kernel sent a malformed message (a {_text(type(content).__name__, 40)} "
            f"where a message's fields belong)"
        )
    if "msg_id" in parent and not isinstance(parent["msg_id"], str):
        raise KernelMessageError("the kernel sent a malformed message (a parent message id that is not text)")
    return message
