"""``attention-scoring``: masked softmax; additive and scaled dot-product attention on the
course's toy inputs; scratch against ``F.scaled_dot_product_attention`` and a hand-masked
softmax on random shapes and masks, values and gradients in float64.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.config import RunConfig, setting
from divelab.experiment import Experiment, RunContext
from divelab.experiments.attention.common import float64_device, heatmap, max_diff
from divelab.report.figures import new_figure
from divelab.scratch.attention import (AdditiveAttention, DotProductAttention, masked_softmax,
                                       scaled_dot_product_attention)


@dataclass
class AttentionScoringConfig(RunConfig):
    """``random_trials`` random shapes and masks compare scratch attention with torch's.
    ``epochs``, ``lr`` and ``batch_size`` are unused."""

    min_epochs: ClassVar[int] = 0  # nothing is trained

    epochs: int = 0
    random_trials: int = setting(20, ge=1)


def toy_inputs(device: torch.device) -> dict[str, Tensor]:
    """The course's example: 2 sequences of 10 identical keys (2-d), values ``0 … 39`` as 10 × 4, lengths 2 and 6."""
    g = torch.Generator().manual_seed(0)
    return {"queries_additive": torch.randn(2, 1, 20, generator=g).to(device),
            "queries_dot": torch.randn(2, 1, 2, generator=g).to(device),
            "keys": torch.ones(2, 10, 2, device=device),
            "values": torch.arange(40.0, device=device).reshape(1, 10, 4).repeat(2, 1, 1),
            "valid_len": torch.tensor([2, 6], device=device)}


def _grads_of(fn: Any, inputs: list[Tensor], upstream_seed: int) -> tuple[Tensor, list[Tensor]]:
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(upstream_seed), dtype=out.dtype)
    return out.detach(), list(torch.autograd.grad(out, leaves, upstream.to(out.device)))


def _compare(mine: Any, theirs: Any, inputs: list[Tensor], seed: int) -> tuple[float, float]:
    """Max |scratch − torch| of the outputs and of every input's gradient."""
    out_a, grads_a = _grads_of(mine, inputs, seed)
    out_b, grads_b = _grads_of(theirs, inputs, seed)
    return max_diff(out_a, out_b), max_diff(grads_a, grads_b)


def _random_sdpa_case(rng: random.Random, g: torch.Generator, device: torch.device) -> dict[str, Any]:
    B, h, L, S, d = rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 7), rng.randint(1, 7), rng.randint(1, 8)
    kind = rng.choice(["none", "bool", "float", "causal"])
    mask = None
    if kind == "bool":
        mask = torch.rand(B, 1 if rng.random() < 0.5 else h, L, S, generator=g) < 0.7
    elif kind == "float":
        mask = torch.randn(L, S, generator=g, dtype=torch.float64)
    inputs = [torch.randn(B, h, n, d, generator=g, dtype=torch.float64) for n in (L, S, S)]
    return {"inputs": [t.to(device) for t in inputs], "mask": None if mask is None else mask.to(device),
            "causal": kind == "causal", "kind": kind}


def twin_differences(trials: int, seed: int, device: torch.device) -> dict[str, float]:
    """Largest scratch-vs-torch differences (float64) of masked softmax, sdpa and DotProductAttention."""
    rng, g = random.Random(seed), torch.Generator().manual_seed(seed)
    worst = dict.fromkeys(("masked_softmax", "sdpa", "dot_product", "grad"), 0.0)
    dot = DotProductAttention().eval()
    for trial in range(trials):
        case = _random_sdpa_case(rng, g, device)
        mask, causal = case["mask"], case["causal"]
        out, grad = _compare(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask, is_causal=causal),
                             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask, is_causal=causal),
                             case["inputs"], trial)
        worst["sdpa"], worst["grad"] = max(worst["sdpa"], out), max(worst["grad"], grad)

        q, k, v = (t[:, 0] for t in case["inputs"])                        # (B, n, d): one head
        lengths = torch.randint(1, k.shape[1] + 1, (q.shape[0],), generator=g).to(device)
        keep = torch.arange(k.shape[1], device=device) < lengths[:, None, None]
        out, grad = _compare(lambda q, k, v: dot(q, k, v, lengths),
                             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, keep), [q, k, v], trial)
        worst["dot_product"], worst["grad"] = max(worst["dot_product"], out), max(worst["grad"], grad)

        scores = q @ k.transpose(1, 2)
        out, grad = _compare(lambda s: masked_softmax(s, lengths),
                             lambda s: torch.softmax(s.masked_fill(~keep, -math.inf), dim=-1), [scores], trial)
        worst["masked_softmax"], worst["grad"] = max(worst["masked_softmax"], out), max(worst["grad"], grad)
    return worst


def _scoring_figure(ctx: RunContext, panels: dict[str, Tensor]) -> None:
    fig, axes = new_figure(ncols=len(panels), size=(3.4, 2.8))
    for ax, (title, weights) in zip(axes[0], panels.items()):
        heatmap(fig, ax, weights, title, ylabel="queries (toy: one per sequence)" if "toy" in title else "queries")
    ctx.save_figure(fig, "attention-weights")


def attention_scoring(cfg: AttentionScoringConfig, ctx: RunContext) -> dict[str, Any]:
    device = ctx.device
    g = torch.Generator().manual_seed(cfg.seed)
    example = masked_softmax(torch.rand(2, 2, 4, generator=g).to(device), torch.tensor([2, 3], device=device))
    per_query = masked_softmax(torch.rand(2, 2, 4, generator=g).to(device),
                               torch.tensor([[1, 3], [2, 4]], device=device))

    toy = toy_inputs(device)
    additive = AdditiveAttention(key_size=2, query_size=20, num_hiddens=8, dropout=0.1).to(device).eval()
    dot = DotProductAttention(dropout=0.5).eval()
    out_additive = additive(toy["queries_additive"], toy["keys"], toy["values"], toy["valid_len"])
    toy_additive_weights = additive.attention_weights.detach()
    out_dot = dot(toy["queries_dot"], toy["keys"], toy["values"], toy["valid_len"])
    # identical keys → uniform weights over the first valid_len keys → the mean of those value rows
    expected = torch.stack([toy["values"][0, :2].mean(0), toy["values"][1, :6].mean(0)]).unsqueeze(1)

    random_keys = torch.randn(2, 10, 2, generator=g).to(device)
    additive(toy["queries_additive"].expand(2, 3, 20), random_keys, toy["values"], toy["valid_len"])
    random_weights = additive.attention_weights.detach()

    diffs = twin_differences(cfg.random_trials, cfg.seed, float64_device(device))
    _scoring_figure(ctx, {"masked_softmax, lengths 2 and 3": example.reshape(4, 4),
                          "additive (toy keys)": toy_additive_weights.squeeze(1),
                          "dot product (toy keys)": dot.attention_weights.squeeze(1),
                          "additive, random keys": random_weights.reshape(6, 10)})
    return {
        "masked_softmax_example": example.tolist(), "masked_softmax_per_query": per_query.tolist(),
        "masked_weight_outside_length": (example[0, :, 2:].abs().sum() + example[1, :, 3:].abs().sum()).item(),
        "additive_output": out_additive.tolist(), "dot_output": out_dot.tolist(),
        "additive_uniform_error": max_diff(out_additive, expected),
        "dot_uniform_error": max_diff(out_dot, expected),
        "random_trials": cfg.random_trials,
        "masked_softmax_max_diff": diffs["masked_softmax"], "sdpa_max_diff": diffs["sdpa"],
        "dot_product_max_diff": diffs["dot_product"],
        "max_abs_diff": max(diffs["masked_softmax"], diffs["sdpa"], diffs["dot_product"]),
        "max_grad_diff": diffs["grad"],
    }


EXPERIMENTS = [
    Experiment("attention-scoring", "attention",
               "masked softmax, additive and scaled dot-product attention on the course's toy inputs, scratch vs "
               "F.scaled_dot_product_attention", AttentionScoringConfig, attention_scoring,
               headline=("max_abs_diff", "max_grad_diff", "additive_uniform_error", "dot_uniform_error")),
]
