"""``multihead-attention``: scratch multi-head attention against ``nn.MultiheadAttention`` with
copied weights; self-attention shapes; incremental decoding with a key/value cache; the
sinusoidal positional encoding plotted as the course does, and its relative-position property
``P[t + k] = P[t] M_k`` checked numerically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from divelab.config import RunConfig, setting
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.experiments.attention.common import float64_device, heatmap, max_diff
from divelab.report.figures import new_figure
from divelab.scratch.attention import MultiHeadAttention, causal_mask, sinusoidal_encoding


@dataclass
class MultiheadConfig(RunConfig):
    """``encoding_dim`` and ``num_steps``: the positional encoding plotted (the course: 32 × 60);
    ``max_len`` positions are used to check ``P[t + k] = P[t] M_k``. ``epochs``, ``lr`` and
    ``batch_size`` are unused."""

    min_epochs: ClassVar[int] = 0  # nothing is trained

    epochs: int = 0
    encoding_dim: int = 32
    num_steps: int = setting(60, ge=1)
    max_len: int = setting(10_000, ge=100)

    def validate(self) -> None:
        super().validate()
        if self.encoding_dim < 2 or self.encoding_dim % 2:
            raise UserError(f"encoding_dim must be an even number ≥ 2, got {self.encoding_dim}")


def _mha_pair(E: int, h: int, seed: int, device: torch.device) -> tuple[MultiHeadAttention, nn.MultiheadAttention]:
    """An ``nn.MultiheadAttention`` (biases made non-zero) and its scratch copy, float64."""
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(E, h, batch_first=True).double().to(device)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return MultiHeadAttention.from_torch(theirs), theirs


def mha_twin_differences(seed: int, device: torch.device) -> dict[str, float]:
    """Scratch vs ``nn.MultiheadAttention`` (copied weights, float64) on self- and cross-attention with masks."""
    E, h, B, L, S = 16, 4, 3, 5, 7
    mine, theirs = _mha_pair(E, h, seed, device)
    g = torch.Generator().manual_seed(seed)
    x, memory = (torch.randn(B, n, E, generator=g, dtype=torch.float64).to(device) for n in (L, S))
    padding = torch.arange(S, device=device) >= torch.tensor([S, 3, 5], device=device)[:, None]
    keep = causal_mask(L, L, device=device)
    cases = [  # (inputs, scratch kwargs, torch kwargs); torch's boolean attn_mask is True = blocked
        (lambda a: (a, a, a), {"attn_mask": keep}, {"attn_mask": ~keep}, [x]),
        (lambda a: (a, a, a), {"key_padding_mask": padding[:, :L], "attn_mask": keep},
         {"key_padding_mask": padding[:, :L], "attn_mask": ~keep}, [x]),
        (lambda a, m: (a, m, m), {"key_padding_mask": padding}, {"key_padding_mask": padding}, [x, memory]),
    ]
    worst = dict.fromkeys(("output", "weights", "grad"), 0.0)
    for average in (True, False):
        for make, mine_kw, torch_kw, inputs in cases:
            results = []
            for module, kw in ((mine, mine_kw), (theirs, torch_kw)):
                module.zero_grad()
                leaves = [t.clone().requires_grad_(True) for t in inputs]
                out, weights = module(*make(*leaves), need_weights=True, average_attn_weights=average, **kw)
                (out.sum() + (weights * weights).sum()).backward()
                results.append((out, weights, [t.grad for t in leaves] + [p.grad for p in module.parameters()]))
            (o1, w1, g1), (o2, w2, g2) = results
            worst["output"] = max(worst["output"], max_diff(o1, o2))
            worst["weights"] = max(worst["weights"], max_diff(w1, w2))
            worst["grad"] = max(worst["grad"], max_diff(g1, g2))
    return worst


def course_shapes(device: torch.device) -> dict[str, list[int]]:
    """The course's check: 100 hidden units, 5 heads, 2 sequences of 4 queries and 6 key–value pairs, lengths 3, 2."""
    attention = MultiHeadAttention(100, 5).to(device).eval()
    X, Y = torch.ones(2, 4, 100, device=device), torch.ones(2, 6, 100, device=device)
    padding = torch.arange(6, device=device) >= torch.tensor([3, 2], device=device)[:, None]
    out, weights = attention(X, Y, Y, key_padding_mask=padding, need_weights=True, average_attn_weights=False)
    self_out, self_weights = attention(X, X, X, need_weights=True)
    return {"cross_output_shape": list(out.shape), "cross_weights_shape": list(weights.shape),
            "self_output_shape": list(self_out.shape), "self_weights_shape": list(self_weights.shape)}


def cache_difference(seed: int, device: torch.device) -> float:
    """Max |step-by-step with a key/value cache − full causal self-attention| over 8 positions (float64)."""
    mine, _ = _mha_pair(16, 4, seed, device)
    x = torch.randn(2, 8, 16, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device)
    with torch.no_grad():
        full, _ = mine(x, x, x, is_causal=True)
        cache: dict = {}
        steps = [mine(x[:, t: t + 1], x[:, t: t + 1], x[:, t: t + 1], cache=cache)[0] for t in range(8)]
    return max_diff(torch.cat(steps, dim=1), full)


def shift_matrix(k: int, d: int) -> Tensor:
    """``M_k``: a rotation by ``k ω_i`` in each plane ``(2i, 2i+1)``, so that ``P[t + k] = P[t] M_k``."""
    omega = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
    M = torch.zeros(d, d, dtype=torch.float64)
    for i, w in enumerate(omega.tolist()):
        c, s = math.cos(k * w), math.sin(k * w)
        # a row vector times M: [sin a, cos a] M = [sin(a + kω), cos(a + kω)]
        M[2 * i, 2 * i], M[2 * i, 2 * i + 1], M[2 * i + 1, 2 * i], M[2 * i + 1, 2 * i + 1] = c, -s, s, c
    return M


def relative_position_check(d: int, max_len: int, shifts: tuple[int, ...] = (1, 5, 20)) -> dict[str, float]:
    """``max_t |P[t] M_k − P[t + k]|`` over all positions, and ``M_k`` fitted by least squares on the
    first half of the positions, applied to the second half (it does not depend on ``t``)."""
    P = sinusoidal_encoding(max_len, d)
    half = max_len // 2
    exact = fitted = matrix = 0.0
    for k in shifts:
        M = shift_matrix(k, d)
        exact = max(exact, max_diff(P[:-k] @ M, P[k:]))
        fit = torch.linalg.lstsq(P[:half], P[k: half + k]).solution
        fitted = max(fitted, max_diff(P[half:-k] @ fit, P[half + k:]))
        matrix = max(matrix, max_diff(fit, M))
    return {"relative_position_max_error": exact, "relative_position_fit_error": fitted,
            "relative_position_fit_matrix_diff": matrix}


def _encoding_figure(ctx: RunContext, P: Tensor) -> None:
    fig, axes = new_figure(ncols=2, size=(5.0, 3.6))
    steps = np.arange(P.shape[0])
    for column in range(6, min(10, P.shape[1])):
        axes[0][0].plot(steps, P[:, column].cpu().numpy(), label=f"col {column}")
    axes[0][0].set_xlabel("row (position)")
    axes[0][0].set_title("sinusoidal positional encoding, columns 6–9")
    axes[0][0].legend(fontsize=8)
    axes[0][0].grid(alpha=0.3)
    image = axes[0][1].imshow(P.cpu().numpy(), cmap="Blues", aspect="auto")
    fig.colorbar(image, ax=axes[0][1], shrink=0.8)
    axes[0][1].set_xlabel("column (encoding dimension)")
    axes[0][1].set_ylabel("row (position)")
    axes[0][1].set_title("P: frequency falls along the columns")
    ctx.save_figure(fig, "positional-encoding")


def _heads_figure(ctx: RunContext, device: torch.device, seed: int) -> None:
    mine, _ = _mha_pair(16, 4, seed, device)
    x = torch.randn(1, 8, 16, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64).to(device)
    padding = torch.arange(8, device=device) >= 6
    with torch.no_grad():
        _, weights = mine(x, x, x, key_padding_mask=padding[None], need_weights=True, average_attn_weights=False,
                          is_causal=True)
    fig, axes = new_figure(ncols=4, size=(3.0, 2.7))
    for head, ax in enumerate(axes[0]):
        heatmap(fig, ax, weights[0, head], f"head {head + 1}", colorbar=head == 3, vmax=1.0)
    fig.suptitle("causal self-attention per head (last 2 positions padding)")
    ctx.save_figure(fig, "heads")


def multihead_attention(cfg: MultiheadConfig, ctx: RunContext) -> dict[str, Any]:
    exact_device = float64_device(ctx.device)
    diffs = mha_twin_differences(cfg.seed, exact_device)
    P = sinusoidal_encoding(cfg.num_steps, cfg.encoding_dim)
    _encoding_figure(ctx, P)
    _heads_figure(ctx, exact_device, cfg.seed)
    return {
        "max_abs_diff": max(diffs["output"], diffs["weights"]), "output_max_diff": diffs["output"],
        "weights_max_diff": diffs["weights"], "max_grad_diff": diffs["grad"],
        **course_shapes(ctx.device),
        "cache_max_diff": cache_difference(cfg.seed, exact_device),
        **relative_position_check(cfg.encoding_dim, cfg.max_len),
        "encoding_shape": list(P.shape),
    }


EXPERIMENTS = [
    Experiment("multihead-attention", "attention",
               "scratch multi-head attention vs nn.MultiheadAttention, self-attention, key/value cache, sinusoidal "
               "positional encoding and its relative-position property", MultiheadConfig, multihead_attention,
               headline=("max_abs_diff", "max_grad_diff", "cache_max_diff", "relative_position_max_error")),
]
