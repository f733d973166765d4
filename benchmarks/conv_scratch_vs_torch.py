"""Speed of divelab's from-scratch ``conv2d`` (im2col + one matmul) against ``F.conv2d``.

Both sides get the same input, weight and bias (float32 by default, seeded) for each of
these convolutions:

``lenet_conv1``   (256, 1, 28, 28) × (6, 1, 5, 5), padding 2 — LeNet's first layer
``lenet_conv2``   (256, 6, 14, 14) × (16, 6, 5, 5)            — LeNet's second layer
``resnet_3x3``    (128, 64, 32, 32) × (128, 64, 3, 3), padding 1 — a ResNet-style 3×3 layer

Two things are timed per side:

``forward``
    ``conv2d(x, weight, bias, stride, padding)`` under ``torch.no_grad()`` (inference).
``fwd_bwd``
    the forward with gradients recorded, then ``torch.autograd.grad`` of the output against
    a fixed upstream gradient for x, weight and bias (one training step's share of the layer).

After ``--warmup`` uncounted calls, ``--repeats`` calls are timed per side and measure, the
sides alternating call by call (scratch, torch, scratch, …) so that drift in the machine's
speed hits both alike; the device is synchronised before and after each call. ``*_s``
are medians in seconds, ``*_all_s`` every timed call; ``forward_ratio`` and
``fwd_bwd_ratio`` are scratch / torch (how many times slower the scratch version is).
``im2col_mb`` is the size of the scratch side's window matrix ``(C_in·kh·kw, N·H'·W')``,
the extra memory it needs on top of what ``F.conv2d`` uses. ``max_rel_diff`` compares the
outputs and every gradient of the two sides, ``max |a − b| / max |b|`` per tensor (a sanity
check that both compute the same).

Run it with::

    .venv/bin/python benchmarks/conv_scratch_vs_torch.py [--device cpu|cuda] [--repeats 5]
        [--warmup 1] [--threads N] [--dtype float32|float64] [--cases lenet_conv1,resnet_3x3]

Progress lines go to stderr; stdout gets ONE JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from divelab import machine
from divelab.scratch.conv import conv2d
from timing import log, max_rel_diff, run_alternating  # benchmarks/timing.py

SEED = 0
# name: (input shape, weight shape, stride, padding)
CASES: dict[str, tuple[tuple[int, ...], tuple[int, ...], int, int]] = {
    "lenet_conv1": ((256, 1, 28, 28), (6, 1, 5, 5), 1, 2),
    "lenet_conv2": ((256, 6, 14, 14), (16, 6, 5, 5), 1, 0),
    "resnet_3x3": ((128, 64, 32, 32), (128, 64, 3, 3), 1, 1),
}
SIDES: dict[str, Callable[..., Tensor]] = {"scratch": conv2d, "torch": F.conv2d}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, … (default cpu)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per side and measure (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted calls per side first (default 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads (default: torch's, which follows OMP_NUM_THREADS)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in CASES]
    if unknown or not args.cases:
        parser.error(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    if args.repeats < 1 or args.warmup < 0 or (args.threads is not None and args.threads < 1):
        parser.error("need --repeats ≥ 1, --warmup ≥ 0, --threads ≥ 1")
    return args


def make_inputs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], device: torch.device,
                dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
    """Seeded x, weight, bias (drawn on the CPU, so every device gets the same numbers)."""
    g = torch.Generator().manual_seed(SEED)
    x = torch.randn(x_shape, generator=g, dtype=dtype)
    weight = torch.randn(w_shape, generator=g, dtype=dtype) / (w_shape[1] * w_shape[2] * w_shape[3]) ** 0.5
    bias = torch.randn(w_shape[0], generator=g, dtype=dtype)
    return x.to(device), weight.to(device), bias.to(device)


def forward_fn(conv: Callable[..., Tensor], inputs: tuple[Tensor, ...], stride: int, padding: int) -> Callable[[], Any]:
    def run() -> Tensor:
        with torch.no_grad():
            return conv(*inputs, stride=stride, padding=padding)
    return run


def fwd_bwd_fn(conv: Callable[..., Tensor], inputs: tuple[Tensor, ...], stride: int, padding: int,
               upstream: Tensor) -> Callable[[], Any]:
    leaves = tuple(t.detach().requires_grad_(True) for t in inputs)

    def run() -> tuple[Tensor, ...]:
        out = conv(*leaves, stride=stride, padding=padding)
        return (out.detach(), *torch.autograd.grad(out, leaves, upstream))
    return run


def bench_case(name: str, args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    x_shape, w_shape, stride, padding = CASES[name]
    inputs = make_inputs(x_shape, w_shape, device, dtype)
    with torch.no_grad():
        out_shape = tuple(F.conv2d(*inputs, stride=stride, padding=padding).shape)
    upstream = torch.randn(out_shape, generator=torch.Generator().manual_seed(SEED + 1), dtype=dtype).to(device)
    record: dict[str, Any] = {"case": name, "x": list(x_shape), "weight": list(w_shape), "stride": stride,
                              "padding": padding, "output": list(out_shape),
                              "im2col_mb": round(w_shape[1] * w_shape[2] * w_shape[3] * out_shape[0] * out_shape[2]
                                                 * out_shape[3] * inputs[0].element_size() / 2**20, 1)}
    diffs = {}
    for measure, make in (("forward", lambda conv: forward_fn(conv, inputs, stride, padding)),
                          ("fwd_bwd", lambda conv: fwd_bwd_fn(conv, inputs, stride, padding, upstream))):
        times, results = run_alternating({side: make(conv) for side, conv in SIDES.items()},
                                         args.warmup, args.repeats, device)
        median = {side: statistics.median(t) for side, t in times.items()}
        for side in SIDES:
            record[f"{side}_{measure}_s"] = round(median[side], 5)
        record[f"{measure}_ratio"] = round(median["scratch"] / median["torch"], 2)
        record[f"{measure}_all_s"] = {side: [round(s, 5) for s in t] for side, t in times.items()}
        diffs[measure] = max_rel_diff(results["scratch"], results["torch"])
        log(f"{name:<12} {measure:<8} scratch {median['scratch']:.4f} s  torch {median['torch']:.4f} s  "
            f"ratio {record[f'{measure}_ratio']:.2f}")
    record["max_rel_diff"] = {"output": diffs["forward"], "fwd_bwd_output_and_grads": diffs["fwd_bwd"]}
    return record


def main(argv: list[str] | None = None) -> None:
    start = time.perf_counter()
    args = parse_args(argv)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    log(f"device {device}, {args.dtype}, {torch.get_num_threads()} threads, "
        f"{args.warmup} warm-up + {args.repeats} timed calls per side")
    cases = [bench_case(name, args, device, dtype) for name in args.cases]
    print(json.dumps({
        "benchmark": "conv_scratch_vs_torch",
        "scratch": "divelab.scratch.conv.conv2d (Tensor.unfold windows, im2col, one matmul)",
        "twin": "torch.nn.functional.conv2d",
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "cases": cases,
        "machine": machine.facts(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device) if device.type != "cuda" else f"{device} ({torch.cuda.get_device_name(device)})",
        "cpus": len(os.sched_getaffinity(0)),
        "total_s": round(time.perf_counter() - start, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
