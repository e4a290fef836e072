"""Project-wide settings read from the environment in exactly one place.

Importing this module (which ``import utils`` does) also quiets TensorFlow's C++ start-up log.
That has to happen before TensorFlow is imported, so it lives here, in the first module anything
in the course imports. Two things are needed: ``TF_CPP_MIN_LOG_LEVEL=2`` (unless the user chose a
level) for TensorFlow's own logging, and, because TensorFlow 2.21 writes its oneDNN and
cpu-feature notices through absl *before* absl's logging is initialised (no environment variable
reaches those), a one-shot import hook that captures the process's stderr while ``tensorflow``
is being imported and writes back every line except those known notices. Set
``COURSE_TF_LOG=verbose`` to see everything.

``COURSE_FAST=1`` switches every notebook, demo and benchmark to *fast mode*: fewer optimisation
steps, smaller images and subsets of the data sets. Fast mode never changes which code runs, only
how much of it; CI sets it so the whole suite fits in a few minutes on two CPU cores.

Compute precision per machine: which floating-point precision to compute in: bfloat16 where the hardware has it natively, else float32.

bfloat16 (bf16) keeps float32's 8-bit exponent and cuts the mantissa to 7 bits, so a convolution
reads half the bytes and, on hardware with bf16 dot-product instructions, does twice the
multiply-adds per cycle. Where those instructions are missing, oneDNN (TensorFlow's CPU backend)
emulates bf16 by converting to float32 and back, and bf16 is *slower* than float32 (0.32x measured
on an AVX-512 CPU without AVX512_BF16). No fixed default is right everywhere, so ``"auto"`` decides
per machine from what the hardware reports:

* **x86-64**: the ``avx512_bf16`` (Intel Cooper Lake and later, AMD Zen 4 and later) or
  ``amx_bf16`` (Intel Sapphire Rapids and later) flag in ``/proc/cpuinfo``;
* **aarch64**: ``bf16`` in the ``Features`` line of ``/proc/cpuinfo`` (Armv8.6-A BF16 extension);
* **a GPU** that TensorFlow sees: compute capability 8.0 or higher (NVIDIA Ampere and later).

Anything else, including a system without ``/proc/cpuinfo``, gets float32. The features are read
rather than timed: they are what oneDNN itself dispatches on, and reading them costs nothing.
``TF_ENABLE_ONEDNN_OPTS=0`` turns oneDNN off in TensorFlow, and with it native bf16 on the CPU, so
``"auto"`` then picks float32 too.

An explicit ``"float32"`` or ``"bfloat16"`` always wins over the detection (that is the override:
``compute_dtype=`` in the library, ``--dtype`` on the command lines), and so does
``COURSE_DTYPE=float32|bfloat16`` in the environment for every ``"auto"`` at once.

Examples:
    >>> features = CpuFeatures(architecture="x86_64", model="AMD EPYC", flags=frozenset({"avx512_bf16"}))
    >>> choice = choose_compute_dtype("auto", cpu=features, gpu_capability=None)
    >>> choice.dtype, choice.native_bfloat16
    ('bfloat16', True)
    >>> choose_compute_dtype("auto", cpu=CpuFeatures("x86_64", "Intel Xeon", frozenset({"avx2"})),
    ...                      gpu_capability=None).dtype
    'float32'
    >>> choose_compute_dtype("float32").reason
    'float32 asked for explicitly'

Example:
    >>> from utils import config
    >>> steps = config.pick(normal=500, fast=20)
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.abc
import importlib.util
import os
import platform
import sys
import tempfile
from pathlib import Path

from utils.errors import UsageError

#: TensorFlow's C++ log level when the user has not chosen one (2 = warnings and errors only).
TF_LOG_LEVEL = "2"

#: Start-up notices TensorFlow prints on every import, which say nothing to a learner.
TF_NOISE = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "cpu_feature_guard",
    "To enable the following instructions",
    "rebuild TensorFlow with",
)


@contextlib.contextmanager
def _without_tensorflow_notices():
    """Capture file descriptor 2 (C++ writes there directly); write back all but the notices."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if not any(noise in line for noise in TF_NOISE)
            ]
            if kept:
                sys.stderr.write("".join(kept))


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """One-shot import hook: the first ``import tensorflow`` runs inside the stderr filter."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            execute = spec.loader.exec_module

            def exec_module(module):
                with _without_tensorflow_notices():
                    execute(module)

            spec.loader.exec_module = exec_module
        return spec


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", TF_LOG_LEVEL)
# FAISS and scikit-learn share one OpenMP runtime; with its default (active) wait policy idle
# threads spin and slow everything else on a busy 2-core machine 5-10x. It is read when the
# runtime loads, so it is set here, before anything imports it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if (
    os.environ.get("COURSE_TF_LOG", "").lower() != "verbose"
    and "tensorflow" not in sys.modules
    and not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path)
):
    sys.meta_path.insert(0, _QuietTensorFlowImport())

#: Root of the checkout (the folder that holds ``utils/``).
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Name of the environment variable that turns fast mode on.
FAST_ENV_VAR = "COURSE_FAST"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


#: True when fast mode is on (read once, at import).
FAST = _truthy(os.environ.get(FAST_ENV_VAR))


def fast_mode() -> bool:
    """Return True when ``COURSE_FAST`` asks for fast mode."""
    return FAST


def pick(normal, fast):
    """Return ``fast`` in fast mode and ``normal`` otherwise.

    Args:
        normal: value used for a real run (e.g. 500 optimisation steps).
        fast: value used in fast mode (e.g. 20 steps).

    Returns:
        One of the two values.
    """
    return fast if FAST else normal


#: Environment variable naming the folder demos and notebooks write results to (default
#: ``outputs/`` in the checkout; the autograder points it into each submission's scratch folder).
OUTPUTS_ENV_VAR = "COURSE_OUTPUTS"


def output_dir(name: str = "") -> Path:
    """Return (and create) ``<outputs>/<name>``, where demos and notebooks write results.

    ``<outputs>`` is ``$COURSE_OUTPUTS`` when set, else ``outputs/`` in the checkout.
    """
    root = Path(os.environ[OUTPUTS_ENV_VAR]).expanduser() if os.environ.get(OUTPUTS_ENV_VAR) else REPO_ROOT / "outputs"
    path = root / name if name else root
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------------------------
# Compute precision per machine
# --------------------------------------------------------------------------------------------

#: Environment variable that fixes what ``"auto"`` means (``float32`` or ``bfloat16``) everywhere.
DTYPE_ENV_VAR = "COURSE_DTYPE"

#: What a ``compute_dtype`` setting may say.
COMPUTE_DTYPES = ("auto", "float32", "bfloat16")

#: x86 ``/proc/cpuinfo`` flags that mean native bf16 dot products.
X86_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")

#: Lowest CUDA compute capability with native bf16 arithmetic (Ampere).
GPU_BFLOAT16_CAPABILITY = (8, 0)

_CPUINFO = "/proc/cpuinfo"


@dataclasses.dataclass(frozen=True)
class CpuFeatures:
    """What the CPU says about itself.

    Attributes:
        architecture: ``platform.machine()``, e.g. ``"x86_64"`` or ``"aarch64"``.
        model: the model name (``"unknown"`` when the system does not say).
        flags: the feature flags (x86 ``flags``, Arm ``Features``), lower case.
    """

    architecture: str
    model: str
    flags: frozenset = frozenset()


def read_cpu_features(path: str = _CPUINFO) -> CpuFeatures:
    """Read the CPU's model name and feature flags from ``/proc/cpuinfo`` (first processor).

    Returns an empty flag set where the file does not exist (macOS, Windows): no native bf16 is
    assumed there.

    Example:
        >>> read_cpu_features("/no/such/file").flags
        frozenset()
    """
    model, flags = "unknown", set()
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key in ("model name", "hardware", "cpu model") and model == "unknown":
                    model = value.strip() or model
                elif key in ("flags", "features") and not flags:
                    flags = set(value.lower().split())
                elif not key and flags and model != "unknown":
                    break  # end of the first processor's block
    except OSError:
        pass
    return CpuFeatures(platform.machine().lower(), model, frozenset(flags))


def gpu_compute_capability() -> tuple[int, int] | None:
    """The highest CUDA compute capability among the GPUs TensorFlow sees, or None.

    Only asks TensorFlow when it is already imported (a caller that is about to compute has
    imported it), so choosing a dtype never costs a TensorFlow import on its own.
    """
    if "tensorflow" not in sys.modules:
        return None
    tf = sys.modules["tensorflow"]
    best = None
    try:
        for device in tf.config.list_physical_devices("GPU"):
            capability = tf.config.experimental.get_device_details(device).get("compute_capability")
            if capability and (best is None or tuple(capability) > best):
                best = tuple(int(part) for part in capability)
    except (RuntimeError, ValueError, AttributeError):
        return None
    return best


def native_bfloat16(
    cpu: CpuFeatures | None = None, gpu_capability: tuple[int, int] | None | str = "detect"
) -> tuple[bool, str]:
    """Whether this machine computes bf16 natively, and why (one sentence).

    Args:
        cpu: the CPU's features (default: :func:`read_cpu_features`).
        gpu_capability: the GPU's compute capability, None for no GPU, or ``"detect"`` to ask
            TensorFlow (:func:`gpu_compute_capability`).

    Returns:
        ``(native, reason)``.

    Example:
        >>> native_bfloat16(CpuFeatures("aarch64", "Neoverse V1", frozenset({"asimd", "bf16"})), None)
        (True, "the CPU (Neoverse V1) has native bfloat16 instructions (Arm feature 'bf16')")
    """
    if gpu_capability == "detect":
        gpu_capability = gpu_compute_capability()
    if gpu_capability is not None:
        if tuple(gpu_capability) >= GPU_BFLOAT16_CAPABILITY:
            return True, (
                f"the GPU (compute capability {gpu_capability[0]}.{gpu_capability[1]}) has native bfloat16 arithmetic"
            )
        return False, (
            f"the GPU (compute capability {gpu_capability[0]}.{gpu_capability[1]}) has no "
            f"native bfloat16 (needs {GPU_BFLOAT16_CAPABILITY[0]}.{GPU_BFLOAT16_CAPABILITY[1]} "
            "or higher)"
        )
    cpu = cpu or read_cpu_features()
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip() == "0":
        return False, ("TF_ENABLE_ONEDNN_OPTS=0 turns off oneDNN, which TensorFlow's native bfloat16 CPU kernels need")
    if cpu.architecture in ("aarch64", "arm64"):
        if "bf16" in cpu.flags:
            return True, f"the CPU ({cpu.model}) has native bfloat16 instructions (Arm feature 'bf16')"
        return False, f"the CPU ({cpu.model}) lacks the Arm 'bf16' feature: bfloat16 would be emulated"
    found = [flag for flag in X86_BFLOAT16_FLAGS if flag in cpu.flags]
    if found:
        return True, f"the CPU ({cpu.model}) has native bfloat16 dot products ({', '.join(found)})"
    if not cpu.flags:
        return False, f"the CPU's features are unknown ({_CPUINFO} not readable): float32 is the safe choice"
    return False, (
        f"the CPU ({cpu.model}) has no {' or '.join(X86_BFLOAT16_FLAGS)}: bfloat16 would be "
        "emulated and slower than float32"
    )


@dataclasses.dataclass(frozen=True)
class PrecisionChoice:
    """The dtype chosen for a computation, and why.

    Attributes:
        dtype: ``"float32"`` or ``"bfloat16"``.
        requested: what was asked for (``"auto"``, ``"float32"`` or ``"bfloat16"``).
        native_bfloat16: whether the hardware computes bf16 natively (None when not looked at).
        reason: one sentence for humans (printed by the command lines, written to result JSON).
    """

    dtype: str
    requested: str
    native_bfloat16: bool | None
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready dict of the four fields."""
        return dataclasses.asdict(self)


def check_compute_dtype(requested: str) -> str:
    """Return ``requested`` if it is one of :data:`COMPUTE_DTYPES`, else raise :class:`UsageError`.

    Example:
        >>> check_compute_dtype("auto")
        'auto'
    """
    if requested not in COMPUTE_DTYPES:
        raise UsageError(f"compute_dtype must be one of {COMPUTE_DTYPES}; got {requested!r}")
    return requested


def choose_compute_dtype(
    requested: str = "auto", cpu: CpuFeatures | None = None, gpu_capability: tuple[int, int] | None | str = "detect"
) -> PrecisionChoice:
    """Resolve a ``compute_dtype`` setting to the dtype to use on this machine.

    Args:
        requested: ``"auto"`` (bf16 where native, else float32), ``"float32"`` or ``"bfloat16"``.
        cpu, gpu_capability: see :func:`native_bfloat16` (for tests and reports).

    Returns:
        A :class:`PrecisionChoice`.

    Raises:
        UsageError: ``requested`` is not one of :data:`COMPUTE_DTYPES`.
    """
    check_compute_dtype(requested)
    if requested != "auto":
        return PrecisionChoice(requested, requested, None, f"{requested} asked for explicitly")
    forced = os.environ.get(DTYPE_ENV_VAR, "").strip().lower()
    if forced:
        if forced not in COMPUTE_DTYPES[1:]:
            raise UsageError(f"{DTYPE_ENV_VAR} must be 'float32' or 'bfloat16'; got {forced!r}")
        return PrecisionChoice(forced, "auto", None, f"{forced}, because {DTYPE_ENV_VAR}={forced}")
    native, why = native_bfloat16(cpu, gpu_capability)
    if native:
        return PrecisionChoice("bfloat16", "auto", True, f"auto: bfloat16, because {why}")
    return PrecisionChoice("float32", "auto", False, f"auto: float32, because {why}")
