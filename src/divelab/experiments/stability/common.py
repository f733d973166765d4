"""Helpers shared by the stability experiments: the weight-init signature, the deep MLP of
``init`` and ``grad-flow``, and training that reports divergence instead of raising it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from divelab.experiment import RunContext
from divelab.train.trainer import Trainer, TrainingDiverged

InitFn = Callable[[Tensor, torch.Generator], Tensor]


def normal(std: float) -> InitFn:
    """The naive init ``W ~ N(0, std²)``, drawn from the given generator."""
    return lambda w, g: w.normal_(0.0, std, generator=g)


def fit_or_diverge(ctx: RunContext, trainer: Trainer) -> tuple[list[dict[str, Any]], int | None]:
    """Train; if the loss turns NaN/inf, return the epochs completed before and the epoch it happened in."""
    try:
        return ctx.fit(trainer, curves=False), None
    except TrainingDiverged:
        ctx.seconds = (ctx.seconds or 0.0) + trainer.seconds
        return trainer.history, trainer.epoch


def deep_mlp(depth: int, width: int, activation: Callable[[], nn.Module],
             norm: Callable[[int], nn.Module] | None = None) -> nn.Sequential:
    """Flatten, then ``depth − 1`` blocks ``Linear → [norm] → activation`` of ``width`` units, then Linear(width → 10)."""
    layers: list[nn.Module] = [nn.Flatten()]
    fan_in = 28 * 28
    for _ in range(depth - 1):
        layers += [nn.Linear(fan_in, width), *([norm(width)] if norm else []), activation()]
        fan_in = width
    layers.append(nn.Linear(fan_in, 10))
    return nn.Sequential(*layers)
