"""Tests of the compute-precision part of utils.config: the compute dtype chosen per machine, with the CPU features faked.

Both branches of ``"auto"`` are tested on every machine by giving the feature reader a CPU with
and without native bfloat16; the real ``/proc/cpuinfo`` is only parsed, never relied on.
"""

from __future__ import annotations

import pytest

from utils import config
from utils.errors import UsageError

ZEN4 = config.CpuFeatures("x86_64", "AMD EPYC 9354P", frozenset({"avx2", "avx512f", "avx512_bf16"}))
SAPPHIRE_RAPIDS = config.CpuFeatures(
    "x86_64", "Intel Xeon Platinum 8480+", frozenset({"avx512f", "amx_bf16", "amx_tile"})
)
SKYLAKE = config.CpuFeatures("x86_64", "Intel Xeon Gold 6148", frozenset({"avx2", "avx512f", "avx512_vnni"}))
GRAVITON3 = config.CpuFeatures("aarch64", "unknown", frozenset({"fp", "asimd", "sve", "bf16"}))
GRAVITON2 = config.CpuFeatures("aarch64", "unknown", frozenset({"fp", "asimd"}))

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9354P 32-Core Processor
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni

processor\t: 1
model name\t: AMD EPYC 9354P 32-Core Processor
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni
"""

ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid bf16 i8mm
CPU implementer\t: 0x41
"""


@pytest.fixture(autouse=True)
def no_gpu_no_onednn_switch(monkeypatch):
    monkeypatch.setattr(config, "gpu_compute_capability", lambda: None)
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)


@pytest.mark.parametrize(
    "cpu, native", [(ZEN4, True), (SAPPHIRE_RAPIDS, True), (SKYLAKE, False), (GRAVITON3, True), (GRAVITON2, False)]
)
def test_native_bfloat16_from_the_cpu_flags(cpu, native):
    found, reason = config.native_bfloat16(cpu, gpu_capability=None)
    assert found is native
    assert cpu.model in reason


@pytest.mark.parametrize("cpu, dtype", [(ZEN4, "bfloat16"), (SKYLAKE, "float32")])
def test_auto_follows_the_faked_feature_reader(monkeypatch, cpu, dtype):
    """The engine's default path: nothing passed, the reader is what decides."""
    monkeypatch.setattr(config, "read_cpu_features", lambda path=None: cpu)
    choice = config.choose_compute_dtype("auto")
    assert (choice.dtype, choice.requested, choice.native_bfloat16) == (dtype, "auto", dtype == "bfloat16")
    assert choice.reason.startswith(f"auto: {dtype}, because the CPU ({cpu.model})")
    assert choice.to_dict() == {
        "dtype": dtype,
        "requested": "auto",
        "native_bfloat16": dtype == "bfloat16",
        "reason": choice.reason,
    }


@pytest.mark.parametrize("requested", ["float32", "bfloat16"])
@pytest.mark.parametrize("cpu", [ZEN4, SKYLAKE])
def test_an_explicit_dtype_overrides_the_detection(cpu, requested):
    choice = config.choose_compute_dtype(requested, cpu=cpu, gpu_capability=None)
    assert choice.dtype == requested and choice.reason == f"{requested} asked for explicitly"


def test_a_gpu_decides_by_compute_capability():
    assert config.choose_compute_dtype("auto", cpu=SKYLAKE, gpu_capability=(8, 0)).dtype == "bfloat16"
    older = config.choose_compute_dtype("auto", cpu=ZEN4, gpu_capability=(7, 5))
    assert older.dtype == "float32" and "compute capability 7.5" in older.reason


def test_onednn_switched_off_means_float32(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    choice = config.choose_compute_dtype("auto", cpu=ZEN4, gpu_capability=None)
    assert choice.dtype == "float32" and "TF_ENABLE_ONEDNN_OPTS=0" in choice.reason


def test_cpuinfo_is_parsed(tmp_path):
    x86 = tmp_path / "cpuinfo"
    x86.write_text(CPUINFO)
    features = config.read_cpu_features(str(x86))
    assert features.model == "AMD EPYC 9354P 32-Core Processor"
    assert {"avx512_bf16", "avx512f"} <= features.flags and "processor" not in features.flags
    arm = tmp_path / "arm_cpuinfo"
    arm.write_text(ARM_CPUINFO)
    assert "bf16" in config.read_cpu_features(str(arm)).flags
    assert config.read_cpu_features(str(tmp_path / "absent")).flags == frozenset()
    unknown = config.choose_compute_dtype(
        "auto", cpu=config.read_cpu_features(str(tmp_path / "absent")), gpu_capability=None
    )
    assert unknown.dtype == "float32" and "unknown" in unknown.reason


def test_this_machine_gets_an_answer_with_a_reason():
    choice = config.choose_compute_dtype("auto", gpu_capability=None)
    assert choice.dtype in ("float32", "bfloat16") and choice.reason


def test_unknown_dtype_is_a_usage_error():
    with pytest.raises(UsageError, match="compute_dtype must be one of"):
        config.choose_compute_dtype("float16")


def test_course_dtype_fixes_what_auto_means(monkeypatch):
    features = config.CpuFeatures("x86_64", "AMD EPYC", frozenset({"avx512_bf16"}))
    monkeypatch.setenv(config.DTYPE_ENV_VAR, "float32")
    choice = config.choose_compute_dtype("auto", cpu=features, gpu_capability=None)
    assert choice.dtype == "float32" and "COURSE_DTYPE=float32" in choice.reason
    assert config.choose_compute_dtype("bfloat16", cpu=features, gpu_capability=None).dtype == "bfloat16"
    monkeypatch.setenv(config.DTYPE_ENV_VAR, "float16")
    with pytest.raises(UsageError, match="COURSE_DTYPE"):
        config.choose_compute_dtype("auto", cpu=features, gpu_capability=None)
