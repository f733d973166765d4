"""Speed of divelab's from-scratch multi-head attention against ``nn.MultiheadAttention``.

Three sides get the same weights (copied from a seeded ``nn.MultiheadAttention``) and
the same inputs (float32 by default):

``scratch``        ``divelab.scratch.attention.MultiHeadAttention`` — the default path: the
                   hand-written ``softmax(q kᵀ/√d + M) V`` (matmul, masked_fill, softmax, matmul)
``scratch_fused``  ``divelab.models.attention.FusedMultiHeadAttention``, the same layer on the
                   library side: the attention itself by
                   ``F.scaled_dot_product_attention`` (for reference; not the default)
``torch``          ``nn.MultiheadAttention(batch_first=True)`` called with ``need_weights=False``
                   (its fastest path: ``F.scaled_dot_product_attention`` inside)

Cases (batch B, length L, width E, heads h):

``self_padding``  B=32, L=64, E=256, h=8, self-attention with a key padding mask (lengths
                  drawn from L/2…L) — the case the issue's 1.5× target is about
``self_causal``   the same with a causal mask as well (a decoder's self-attention)
``cross``         queries L=64 attending to a memory of S=96 with a padding mask

Two measures per side, both with the layers in training mode and dropout 0 (torch's
inference fast path is thus not taken — it needs eval mode and no gradients):
``forward`` (under ``torch.no_grad()``) and ``fwd_bwd`` (forward, then
``torch.autograd.grad`` of the output against a fixed upstream gradient for the inputs and
all four parameter tensors). After ``--warmup`` calls, ``--repeats`` timed calls per side
alternate side by side so drift hits all alike; ``*_s`` are medians, ``*_all_s`` every
call; ``*_ratio`` = scratch / torch and ``*_fused_ratio`` = scratch_fused / torch.
``max_rel_diff`` (``max |a − b| / max |b|`` over output and gradients) checks that the
sides compute the same.

Run it with (the machine is shared: pin one thread and expect noise)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mha_scratch_vs_torch.py [--device cpu|cuda]
        [--repeats 15] [--warmup 3] [--threads N] [--dtype float32|float64] [--cases self_padding,cross]

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
from divelab.models.attention import FusedMultiHeadAttention
from divelab.scratch.attention import MultiHeadAttention, causal_mask
from timing import log, max_rel_diff, run_alternating  # benchmarks/timing.py

SEED = 0
# name: (B, L, S or None for self-attention, E, h, causal)
CASES: dict[str, tuple[int, int, int | None, int, int, bool]] = {
    "self_padding": (32, 64, None, 256, 8, False),
    "self_causal": (32, 64, None, 256, 8, True),
    "cross": (32, 64, 96, 256, 8, False),
}
SIDES = ("scratch", "scratch_fused", "torch")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, … (default cpu)")
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per side and measure (default 15)")
    parser.add_argument("--warmup", type=int, default=3, help="uncounted calls per side first (default 3)")
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


def make_layers(E: int, h: int, device: torch.device, dtype: torch.dtype) -> dict[str, nn.Module]:
    """A seeded ``nn.MultiheadAttention`` and two copies of it (hand-written and fused)."""
    torch.manual_seed(SEED)
    theirs = nn.MultiheadAttention(E, h, batch_first=True).to(device=device, dtype=dtype)
    mine = MultiHeadAttention.from_torch(theirs)
    fused = FusedMultiHeadAttention(E, h).to(device=device, dtype=dtype)
    fused.load_state_dict(theirs.state_dict())
    return {"scratch": mine.train(), "scratch_fused": fused.train(), "torch": theirs.train()}


def make_inputs(B: int, L: int, S: int | None, E: int, causal: bool, device: torch.device,
                dtype: torch.dtype) -> dict[str, Any]:
    """Seeded inputs (drawn on the CPU) and masks in both conventions (divelab: True = may attend)."""
    g = torch.Generator().manual_seed(SEED + 1)
    x = torch.randn(B, L, E, generator=g, dtype=dtype)
    memory = None if S is None else torch.randn(B, S, E, generator=g, dtype=dtype)
    keys = L if S is None else S
    lengths = torch.randint(keys // 2, keys + 1, (B,), generator=g)
    padding = torch.arange(keys) >= lengths[:, None]                 # True = padding, both conventions
    keep = causal_mask(L, keys) if causal else None
    upstream = torch.randn(B, L, E, generator=g, dtype=dtype)
    return {"x": x.to(device), "memory": None if memory is None else memory.to(device),
            "padding": padding.to(device), "keep": None if keep is None else keep.to(device),
            "upstream": upstream.to(device)}


def call(side: str, layer: nn.Module, inputs: dict[str, Any], leaves: list[Tensor]) -> Tensor:
    """One forward of ``side`` on ``leaves`` ([x] or [x, memory]); torch gets its inverted boolean mask."""
    x = leaves[0]
    key = x if len(leaves) == 1 else leaves[1]
    keep = inputs["keep"]
    if side == "torch":
        mask = None if keep is None else ~keep                          # torch's boolean mask: True = blocked
        return layer(x, key, key, key_padding_mask=inputs["padding"], attn_mask=mask, need_weights=False)[0]
    return layer(x, key, key, key_padding_mask=inputs["padding"], attn_mask=keep)[0]


def forward_fn(side: str, layer: nn.Module, inputs: dict[str, Any]) -> Callable[[], Any]:
    leaves = [inputs["x"]] + ([] if inputs["memory"] is None else [inputs["memory"]])

    def run() -> Tensor:
        with torch.no_grad():
            return call(side, layer, inputs, leaves)
    return run


def fwd_bwd_fn(side: str, layer: nn.Module, inputs: dict[str, Any]) -> Callable[[], Any]:
    leaves = [t.detach().requires_grad_(True) for t in [inputs["x"], inputs["memory"]] if t is not None]
    params = list(layer.parameters())

    def run() -> tuple[Tensor, ...]:
        out = call(side, layer, inputs, leaves)
        return (out.detach(), *torch.autograd.grad(out, leaves + params, inputs["upstream"]))
    return run


def bench_case(name: str, args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> dict[str, Any]:
    B, L, S, E, h, causal = CASES[name]
    layers = make_layers(E, h, device, dtype)
    inputs = make_inputs(B, L, S, E, causal, device, dtype)
    record: dict[str, Any] = {"case": name, "B": B, "L": L, "S": S if S is not None else L, "E": E, "heads": h,
                              "attention": "self" if S is None else "cross", "causal": causal,
                              "padding_fraction": round(inputs["padding"].float().mean().item(), 3)}
    diffs = {}
    for measure, make in (("forward", forward_fn), ("fwd_bwd", fwd_bwd_fn)):
        times, results = run_alternating({side: make(side, layers[side], inputs) for side in SIDES},
                                         args.warmup, args.repeats, device)
        median = {side: statistics.median(t) for side, t in times.items()}
        for side in SIDES:
            record[f"{side}_{measure}_s"] = round(median[side], 5)
        record[f"{measure}_ratio"] = round(median["scratch"] / median["torch"], 2)
        record[f"{measure}_fused_ratio"] = round(median["scratch_fused"] / median["torch"], 2)
        record[f"{measure}_all_s"] = {side: [round(s, 5) for s in t] for side, t in times.items()}
        diffs[measure] = {side: max_rel_diff(results[side], results["torch"]) for side in SIDES[:2]}
        log(f"{name:<13} {measure:<8} scratch {median['scratch'] * 1e3:7.1f} ms  fused "
            f"{median['scratch_fused'] * 1e3:7.1f} ms  torch {median['torch'] * 1e3:7.1f} ms  "
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
        "benchmark": "mha_scratch_vs_torch",
        "scratch": "divelab.scratch.attention.MultiHeadAttention (hand-written attention; scratch_fused: divelab.models.attention.FusedMultiHeadAttention)",
        "twin": "torch.nn.MultiheadAttention(batch_first=True), need_weights=False",
        "target": "fwd_bwd_ratio ≤ 1.5 on self_padding",
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
