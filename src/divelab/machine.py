"""What the machine a run or benchmark ran on can do: recorded beside every measurement,
and the one place that decides whether bf16 is fast here.

Speed figures travel badly between machines (this project's CPUs differ from session to
session: some compute bf16 matrix products in hardware — AVX512-BF16, AMX — others only
emulate them and are several times slower in bf16 than in fp32). :func:`facts` lists what
tells them apart; :func:`fast_bf16` reads the same facts to choose ``precision=auto``.
"""

from __future__ import annotations

import functools
import os
import platform
import time
from typing import Any

import torch

# the CPU instruction sets that decide the speed of fp32 and bf16 matrix products
CPU_FLAGS = ("avx2", "avx512_f", "avx512_bf16", "amx_tile", "amx_bf16")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
BF16_CUDA_CAPABILITY = (8, 0)  # Ampere: tensor cores with native bf16

# Environment variables that keep the libraries below what the CPU has (to measure, on one
# machine, what an older CPU would do): oneDNN (convolutions, bf16 matrix products), ATen's
# vectorised kernels, MKL (fp32 matrix products).
ISA_LIMITS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")
# oneDNN's instruction sets below AVX512_CORE_BF16: capped at one of them, oneDNN cannot use
# the CPU's bf16 instructions (AVX2_VNNI_2 converts bf16 but has no bf16 dot product)
ONEDNN_ISAS_WITHOUT_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI")


def cpu_capabilities() -> dict[str, Any]:
    """PyTorch's view of the CPU (``torch.cpu.get_capabilities()``, cpuinfo): name, cores, ISA flags."""
    get = getattr(torch.cpu, "get_capabilities", None)
    return dict(get()) if get is not None else {}


def isa_limits() -> dict[str, str]:
    """The :data:`ISA_LIMITS` set in this process's environment, by name."""
    return {name: os.environ[name] for name in ISA_LIMITS if os.environ.get(name)}


def onednn_bf16_cap() -> str | None:
    """The ``ONEDNN_MAX_CPU_ISA`` (or older ``DNNL_MAX_CPU_ISA``) setting that keeps oneDNN from
    bf16 instructions, as ``NAME=VALUE``; ``None`` when oneDNN may use them."""
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        value = os.environ.get(name, "").strip()
        if value:  # oneDNN reads the first one set
            return f"{name}={value}" if value.upper() in ONEDNN_ISAS_WITHOUT_BF16 else None
    return None


def cpu_facts() -> dict[str, Any]:
    """CPU model, cores, the :data:`CPU_FLAGS` it has, the threads torch uses, and any
    :data:`ISA_LIMITS` in force (``flags`` are the hardware's, whatever the limits)."""
    caps = cpu_capabilities()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    record = {"cpu": caps.get("cpu_name") or platform.processor() or platform.machine(),
              "physical_cores": caps.get("num_physical_cores"), "usable_cores": usable,
              "flags": [flag for flag in CPU_FLAGS if caps.get(flag)],
              "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "threads": torch.get_num_threads()}
    limits = isa_limits()
    if limits:
        record["isa_limits"] = limits
    return record


def cuda_facts(device: torch.device) -> dict[str, Any]:
    """Name, compute capability and memory of a CUDA device."""
    props = torch.cuda.get_device_properties(device)
    return {"gpu": props.name, "compute_capability": f"{props.major}.{props.minor}",
            "gpu_memory_gib": round(props.total_memory / 2**30, 1), "cuda": torch.version.cuda}


def facts(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Everything a speed figure needs beside it: CPU, threads, versions, and the device (GPU facts on CUDA)."""
    device = torch.device(device)
    record = {**cpu_facts(), "torch": torch.__version__, "python": platform.python_version(),
              "device": str(device)}
    if device.type == "cuda":
        record.update(cuda_facts(device))
    return record


def fast_bf16(device: torch.device | str) -> tuple[bool, str]:
    """Whether ``device`` computes bf16 matrix products in hardware, and why (one line)."""
    device = torch.device(device)
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        if (major, minor) >= BF16_CUDA_CAPABILITY:
            return True, f"CUDA compute capability {major}.{minor} has bf16 tensor cores"
        return False, f"CUDA compute capability {major}.{minor} has no bf16 tensor cores (needs 8.0)"
    if device.type == "cpu":
        caps = cpu_capabilities()
        found = [flag for flag in BF16_CPU_FLAGS if caps.get(flag)]
        cap = onednn_bf16_cap()
        if found and cap:
            return False, (f"{cap} keeps oneDNN from the CPU's {' and '.join(f.upper() for f in found)}: "
                           "bf16 would be emulated, slower than fp32")
        if found:
            return True, f"the CPU has {' and '.join(f.upper() for f in found)}"
        return False, "the CPU has neither AVX512_BF16 nor AMX_BF16: bf16 would be emulated, slower than fp32"
    return False, f"bf16 speed on {device.type} is not known"


@functools.cache
def matmul_peak(device: str, precision: str, n: int = 1024, repeats: int = 3) -> float:
    """FLOP/s of the fastest of ``repeats`` ``n × n`` matrix products (``2n³`` FLOP each) in
    ``precision``'s dtype on ``device``, after one untimed product; measured once per process
    (a tenth of a second on a CPU) with the threads torch uses now."""
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=gen).to(device, dtype) for _ in range(2))
    best = float("inf")
    for i in range(repeats + 1):
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        if i:  # the first product warms up (allocations, kernel selection)
            best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best
