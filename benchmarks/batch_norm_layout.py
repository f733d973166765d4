"""Batch norm's training cost by channel count, memory layout and dtype: why ``speedrun`` starts 32 wide.

One training-mode ``F.batch_norm`` forward and backward (``torch.autograd.grad`` for the input,
scale and shift against a fixed upstream gradient) over a ``(batch, C, H, W)`` activation, for
every combination of ``--channels`` (default 24, 32: the first stage's widths tried), layout
(``contiguous`` NCHW, ``channels_last`` NHWC — the layout ``speedrun`` trains in) and dtype
(``float32``, ``bfloat16``). All combinations take turns call by call (so drifting machine load
hits each alike); ``ms`` is the median of ``--repeats`` timed calls, ``ms_per_channel`` that over
C (equal across C if the kernel's cost were proportional to the work).

Run it with::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/batch_norm_layout.py [--channels 24,32]
        [--batch 256] [--size 14] [--repeats 30] [--warmup 3] [--device cpu]

Progress lines go to stderr; stdout gets ONE JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from divelab import machine
from timing import log, run_alternating  # benchmarks/timing.py

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def batch_norm_step(shape: tuple[int, int, int, int], dtype: torch.dtype, layout: torch.memory_format,
                    device: torch.device) -> Callable[[], None]:
    """A function doing one training-mode batch norm forward + backward on a fixed random input."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g).to(device=device, dtype=dtype, memory_format=layout).requires_grad_()
    upstream = torch.randn(shape, generator=g).to(device=device, dtype=dtype, memory_format=layout)
    weight = torch.ones(shape[1], device=device, dtype=dtype, requires_grad=True)
    bias = torch.zeros(shape[1], device=device, dtype=dtype, requires_grad=True)
    mean, var = torch.zeros(shape[1], device=device, dtype=dtype), torch.ones(shape[1], device=device, dtype=dtype)

    def step() -> None:
        out = F.batch_norm(x, mean, var, weight, bias, training=True)
        torch.autograd.grad(out, (x, weight, bias), upstream)
    return step


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", default="24,32", help="comma-separated channel counts (default 24,32)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=14, help="height = width of the activation (default 14)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    try:
        channels = [int(c) for c in args.channels.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--channels must be comma-separated integers, got {args.channels!r}")
    if not channels or min(channels) < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("need --channels ≥ 1, --repeats ≥ 1, --warmup ≥ 0")
    device = torch.device(args.device)
    sides = {f"{dtype}/{layout}/C{c}": batch_norm_step((args.batch, c, args.size, args.size), DTYPES[dtype],
                                                       LAYOUTS[layout], device)
             for dtype in DTYPES for layout in LAYOUTS for c in channels}
    log(f"{len(sides)} cases, {args.warmup} + {args.repeats} calls each, taking turns")
    times, _ = run_alternating(sides, args.warmup, args.repeats, device)
    results = {}
    for name, seconds in times.items():
        dtype, layout, c = name.split("/")
        ms = statistics.median(seconds) * 1e3
        results[name] = {"dtype": dtype, "layout": layout, "channels": int(c[1:]), "ms": ms,
                         "ms_per_channel": ms / int(c[1:])}
    return {"benchmark": "batch_norm_layout", "shape": [args.batch, "C", args.size, args.size],
            "repeats": args.repeats, "results": results, "threads": torch.get_num_threads(),
            "machine": machine.facts(str(device))}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
