"""This machine's matrix-product peak in fp32 and bf16, side by side, with the machine's facts.

A square ``n × n`` product costs ``2n³`` FLOP; the peak is the best of ``repeats`` timed
products after ``warmup`` untimed ones, the precisions alternating call by call so that a
drift in the machine's load hits both. The ratio ``bf16 / fp32`` is what travels between
machines: about 4–5× where the CPU has AVX512-BF16 or AMX, well below 1× where bf16 is
emulated (AVX2 only). Progress goes to stderr; stdout gets ONE JSON object::

    .venv/bin/python benchmarks/peak.py [--sizes 512 1024 2048] [--device cpu] [--threads N]

``divelab.machine.fast_bf16`` (what ``precision=auto`` asks) is recorded beside the
measurement, so a machine where the two disagree shows up.
"""

from __future__ import annotations

import argparse
import json

import torch
from timing import log, run_alternating

from divelab import machine

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def peak(n: int, device: torch.device, warmup: int, repeats: int) -> dict[str, float]:
    """GFLOP/s of the best ``n × n`` product per precision."""
    gen = torch.Generator().manual_seed(n)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    operands = {name: (a.to(device, dtype), b.to(device, dtype)) for name, dtype in DTYPES.items()}
    fns = {name: (lambda x=x, y=y: torch.mm(x, y)) for name, (x, y) in operands.items()}
    times, _ = run_alternating(fns, warmup, repeats, device)
    return {name: 2 * n ** 3 / min(seconds) / 1e9 for name, seconds in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for n in args.sizes:
        gflops = peak(n, device, args.warmup, args.repeats)
        rows.append({"n": n, "fp32_gflops": round(gflops["fp32"], 1), "bf16_gflops": round(gflops["bf16"], 1),
                     "bf16_over_fp32": round(gflops["bf16"] / gflops["fp32"], 2)})
        log(f"n={n}: fp32 {gflops['fp32']:.0f} GFLOP/s, bf16 {gflops['bf16']:.0f} GFLOP/s")
    fast, why = machine.fast_bf16(device)
    best = {name: max(r[f"{name}_gflops"] for r in rows) for name in DTYPES}
    print(json.dumps({"benchmark": "peak", "machine": machine.facts(device), "sizes": rows,
                      "peak_fp32_gflops": best["fp32"], "peak_bf16_gflops": best["bf16"],
                      "bf16_over_fp32": round(best["bf16"] / best["fp32"], 2),
                      "auto_chooses_bf16": fast, "auto_reason": why}, indent=2))


if __name__ == "__main__":
    main()
