"""Chapter 2 exercises — generalisation: dropout, the L2 penalty, K-fold indices."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.exercises.spec import DTYPE, Case, Exercise, Hint, leaf

# ---- dropout --------------------------------------------------------------------------------------

DROPOUT_N = 40_000  # elements per case: the dropped fraction is then within ±0.0025 (1σ) of p


def _dropout_input(g: torch.Generator, shape: tuple[int, ...]) -> Tensor:
    """Values of magnitude 1 … 2 with random signs: none is 0, so a zero in the output means dropped."""
    magnitude = 1 + torch.rand(shape, generator=g, dtype=DTYPE)
    sign = torch.randint(0, 2, shape, generator=g).to(DTYPE) * 2 - 1
    return magnitude * sign


def _dropout_case(p: float, training: bool, shape: tuple[int, ...] = (200, 200)) -> Case:
    mode = "train" if training else "eval"
    return Case(f"p = {p:g}, {mode} mode, shape {shape}",
                lambda g: {"x": _dropout_input(g, shape), "p": p, "training": training})


def _dropout_cases() -> list[Case]:
    return [_dropout_case(0.5, True), _dropout_case(0.2, True, (4, 100, 100)), _dropout_case(0.0, True),
            _dropout_case(1.0, True), _dropout_case(0.5, False), _dropout_case(0.9, True, (40_000,))]


def _min_max(values: Tensor) -> Tensor:
    return torch.stack([values.min(), values.max()]) if values.numel() else torch.zeros(2, dtype=DTYPE)


def _dropout_probe(fn: Any, args: dict[str, Any]) -> dict[str, Tensor]:
    """Eval mode: the output itself. Training: the masks differ between implementations (each
    draws its own), so compare what any correct mask gives — the dropped fraction, the scale
    of the kept values, and the gradient, which is ``1/(1 − p)`` where kept and 0 where dropped."""
    x = leaf(args["x"])
    y = fn(x, args["p"], args["training"])
    found = {"shape": torch.tensor(list(y.shape)), "dtype": y.detach().flatten()[:0]}
    if y.requires_grad:
        y.backward(torch.ones_like(y))
    grad = x.grad if x.grad is not None else torch.zeros_like(x)
    if not args["training"]:
        return {**found, "output": y.detach(), "grad x": grad}
    y = y.detach()
    kept = y != 0
    return {**found,
            "fraction dropped": 1 - kept.to(DTYPE).mean(),
            "scale of kept values (min, max)": _min_max(y[kept] / x.detach()[kept]),
            "grad x where kept (min, max)": _min_max(grad[kept]),
            "grad x where dropped (max |g|)": grad[~kept].abs().max() if (~kept).any() else torch.zeros((), dtype=DTYPE)}


DROPOUT = Exercise(
    name="dropout", chapter=2, title="inverted dropout (train and eval mode)", difficulty="easy",
    entry="dropout",
    signature="def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:",
    task='''Inverted dropout: zero each element with probability p, scale the survivors by 1/(1 − p).

    dropout(x)_i = m_i · x_i / (1 − p),   m_i ~ Bernoulli(1 − p) independently

    so that E[dropout(x)_i] = x_i. In evaluation mode (training=False) it is the identity.
    p = 0 keeps everything; p = 1 drops everything (return zeros — do not divide by 0).

    x: any shape, floating point. Returns a tensor of x's shape and dtype.
    Allowed: torch.rand / torch.bernoulli and arithmetic. Not allowed: torch.nn.functional.dropout,
    torch.dropout, nn.Dropout (the thing itself).''',
    solution="divelab.scratch.dropout:dropout",
    source=("divelab.scratch.dropout:dropout_mask", "divelab.scratch.dropout:apply_dropout_mask",
            "divelab.scratch.dropout:dropout"),
    experiments=("dropout-scratch",),
    reference=lambda x, p, training=True: F.dropout(x, p, training),
    probe=_dropout_probe, cases=_dropout_cases,
    forbidden=("torch.nn.functional.dropout", "torch.dropout", "torch.nn.Dropout.forward"),
    tolerance=(1e-9, 1e-9),
    key_tolerance={"fraction dropped": (0.012, 0.0)},
    hints=(
        Hint("dropout-p1", "p = 1 must drop every element: x · 0 / (1 − p) is 0/0 = NaN; "
             "handle p = 1 on its own (return zeros)", case="p = 1,"),
        Hint("dropout-eval", "in evaluation mode dropout is the identity: return x unchanged "
             "(no mask, no scaling)", case="eval mode"),
        Hint("dropout-fraction", "each element must be dropped with probability p (kept with 1 − p): "
             "keep where torch.rand(...) > p, or < 1 − p — not < p", key="fraction dropped"),
        Hint("dropout-scale", "the kept elements must be divided by the keep probability 1 − p "
             "(inverted dropout), so that the expected output equals the input", key="scale|grad x where kept"),
    ),
)

EXERCISES: list[Exercise] = [DROPOUT]
