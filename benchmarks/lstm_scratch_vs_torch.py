"""Speed of divelab's from-scratch ``LSTMScratch`` against ``nn.LSTM``, forward and backward.

Both sides hold the same weights (``nn.LSTM`` built under a seed, its ``state_dict``
loaded into ``LSTMScratch``) and get the same input, for each of these character-level
language-model shapes (sequence-first input ``(T, B, I)``, zero initial state):

``lm_1layer``   T=64, B=32, I=80 (a one-hot character vocabulary), H=256, 1 layer
``lm_2layer``   the same with 2 layers
``small_h64``   T=64, B=32, I=80, H=64, 1 layer — little arithmetic per step, so the
                per-step Python and autograd overhead of the scratch side shows most

Two things are timed per side:

``forward``
    ``lstm(x)`` under ``torch.no_grad()`` (inference, e.g. text generation).
``fwd_bwd``
    the forward with gradients recorded, then ``torch.autograd.grad`` of the output
    (against a fixed upstream gradient) for x and every weight (one training step's share).

After ``--warmup`` uncounted calls, ``--repeats`` calls are timed per side and measure, the
sides alternating call by call (scratch, torch, scratch, …) so that drift in the machine's
speed hits both alike; the device is synchronised before and after each call. ``*_s``
are medians in seconds, ``*_all_s`` every timed call; ``forward_ratio`` and
``fwd_bwd_ratio`` are scratch / torch (the issue's target: ``fwd_bwd_ratio`` ≤ 2).
On the CPU, ``nn.LSTM`` in float32 runs oneDNN's fused RNN kernel when ``mkldnn``
is reported true; ``max_rel_diff`` compares the outputs and every gradient of the two
sides, ``max |a − b| / max |b|`` per tensor (a sanity check that both compute the same).

Run it with::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lstm_scratch_vs_torch.py [--device cpu|cuda]
        [--repeats 5] [--warmup 1] [--threads N] [--dtype float32|float64] [--cases lm_1layer,lm_2layer]

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
from torch import Tensor, nn

from divelab import machine
from divelab.scratch.rnn import LSTMScratch
from timing import log, max_rel_diff, run_alternating  # benchmarks/timing.py

SEED = 0
# name: (steps T, batch B, input size I, hidden size H, layers)
CASES: dict[str, tuple[int, int, int, int, int]] = {
    "lm_1layer": (64, 32, 80, 256, 1),
    "lm_2layer": (64, 32, 80, 256, 2),
    "small_h64": (64, 32, 80, 64, 1),
}


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


def make_layers(input_size: int, hidden_size: int, layers: int, device: torch.device,
                dtype: torch.dtype) -> dict[str, nn.Module]:
    """``nn.LSTM`` drawn under the seed and ``LSTMScratch`` with its weights loaded."""
    torch.manual_seed(SEED)
    reference = nn.LSTM(input_size, hidden_size, layers)
    scratch = LSTMScratch(input_size, hidden_size, layers)
    scratch.load_state_dict(reference.state_dict())
    return {"scratch": scratch.to(device, dtype), "torch": reference.to(device, dtype)}


def forward_fn(lstm: nn.Module, x: Tensor) -> Callable[[], Any]:
    def run() -> Tensor:
        with torch.no_grad():
            return lstm(x)[0]
    return run


def fwd_bwd_fn(lstm: nn.Module, x: Tensor, upstream: Tensor) -> Callable[[], Any]:
    leaf = x.detach().requires_grad_(True)
    weights = tuple(lstm.parameters())   # the same names in the same order on both sides

    def run() -> tuple[Tensor, ...]:
        out = lstm(leaf)[0]
        return (out.detach(), *torch.autograd.grad(out, (leaf, *weights), upstream))
    return run


def bench_case(name: str, args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    steps, batch, input_size, hidden_size, layers = CASES[name]
    lstms = make_layers(input_size, hidden_size, layers, device, dtype)
    g = torch.Generator().manual_seed(SEED + 1)
    x = torch.randn(steps, batch, input_size, generator=g, dtype=dtype).to(device)
    upstream = torch.randn(steps, batch, hidden_size, generator=g, dtype=dtype).to(device)
    record: dict[str, Any] = {"case": name, "steps": steps, "batch": batch, "input_size": input_size,
                              "hidden_size": hidden_size, "num_layers": layers}
    diffs = {}
    for measure, make in (("forward", lambda lstm: forward_fn(lstm, x)),
                          ("fwd_bwd", lambda lstm: fwd_bwd_fn(lstm, x, upstream))):
        times, results = run_alternating({side: make(lstm) for side, lstm in lstms.items()},
                                         args.warmup, args.repeats, device)
        median = {side: statistics.median(t) for side, t in times.items()}
        for side in lstms:
            record[f"{side}_{measure}_s"] = round(median[side], 5)
        record[f"{measure}_ratio"] = round(median["scratch"] / median["torch"], 2)
        record[f"{measure}_all_s"] = {side: [round(s, 5) for s in t] for side, t in times.items()}
        diffs[measure] = max_rel_diff(results["scratch"], results["torch"])
        log(f"{name:<10} {measure:<8} scratch {median['scratch']:.4f} s  torch {median['torch']:.4f} s  "
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
    log(f"device {device}, {args.dtype}, {torch.get_num_threads()} threads, "
        f"{args.warmup} warm-up + {args.repeats} timed calls per side")
    cases = [bench_case(name, args, device, dtype) for name in args.cases]
    print(json.dumps({
        "benchmark": "lstm_scratch_vs_torch",
        "scratch": "divelab.scratch.rnn.LSTMScratch (input projection for all steps in one matmul, "
                   "then one (B, 4H) addmm per step)",
        "twin": "torch.nn.LSTM",
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
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
