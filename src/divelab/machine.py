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


def cpu_capabilities() -> dict[str, Any]:
    """PyTorch's view of the CPU (``torch.cpu.get_capabilities()``, cpuinfo): name, cores, ISA flags."""
    get = getattr(torch.cpu, "get_capabilities", None)
    return dict(get()) if get is not None else {}


def cpu_facts() -> dict[str, Any]:
    """CPU model, cores, the :data:`CPU_FLAGS` it has, and the threads torch uses."""
    caps = cpu_capabilities()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {"cpu": caps.get("cpu_name") or platform.processor() or platform.machine(),
            "physical_cores": caps.get("num_physical_cores"), "usable_cores": usable,
            "flags": [flag for flag in CPU_FLAGS if caps.get(flag)],
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads()}


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
