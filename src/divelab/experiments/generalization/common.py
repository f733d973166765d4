"""Helpers shared by the generalisation experiments: the data loss, quiet sub-runs with one
progress line each, and the rounding of the summaries' lists."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from torch import nn

from divelab.data import TensorLoader
from divelab.experiment import RunContext
from divelab.scratch.losses import squared_loss
from divelab.train.trainer import Trainer, evaluate

EVAL_BATCH = 1024
MAX_DEGREE = 30  # x^i / i! stays finite in float32 (34! ≈ 3·10³⁸ is the largest factorial it holds)


def data_loss(model: nn.Module, loader: TensorLoader) -> float:
    """``½ mean (ŷ − y)²`` of ``model`` over all of ``loader`` (no penalty term)."""
    return evaluate(model, loader, squared_loss, classification=False)["loss"]


def fit_quietly(ctx: RunContext, trainer: Trainer) -> list[dict[str, Any]]:
    """Train a sub-run without the trainer's line per epoch: sweeps train dozens of tiny
    models for hundreds of epochs each; :func:`announce` gives one line per model instead."""
    trainer.progress.enabled = False
    return ctx.fit(trainer, curves=False)


def announce(ctx: RunContext, name: str, **numbers: float) -> None:
    """One progress line ``name: key value …`` on stderr, unless the run is quiet."""
    if ctx.progress:
        print(f"{name}: " + "  ".join(f"{k} {v:.4g}" for k, v in numbers.items()), file=sys.stderr, flush=True)


def rounded(values: np.ndarray) -> list[float]:
    """Four significant digits: enough to read, short enough for summary.json."""
    return [float(f"{v:.4g}") for v in values]
