"""The book's high-dimensional linear regression, shared by ``weight-decay`` and ``kfold``:
its config, data and initial weights, the scratch and library weight-decay set-ups, the
training of one set-up, and the λ axis of their figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.config import RunConfig, setting
from divelab.data import TensorLoader
from divelab.data.synthetic import linear_data
from divelab.experiment import RunContext
from divelab.experiments.generalization.common import EVAL_BATCH, announce, data_loss, fit_quietly
from divelab.models.linear import LinearRegression
from divelab.scratch.losses import squared_loss
from divelab.scratch.models import LinearRegressionScratch
from divelab.scratch.optim import SGD as ScratchSGD
from divelab.scratch.regularization import l2_penalty


@dataclass
class HighDimConfig(RunConfig):
    """The book's weight-decay problem: ``y = 0.05 + Σ_i 0.01 x_i + ε``, ε ~ N(0, 0.01²),
    ``num_inputs`` = 200 features but only 20 training samples, so unregularised least
    squares can fit the training set exactly and generalise badly. Weights start from
    N(0, ``init_std``²) as in the book; ``lambdas`` lists the weight-decay strengths."""

    epochs: int = 100
    batch_size: int = 5
    lr: float = 0.003
    num_inputs: int = setting(200, ge=1)
    num_train: int = setting(20, ge=1)
    num_test: int = setting(100, ge=1)
    noise: float = setting(0.01, ge=0)
    init_std: float = setting(1.0, ge=0)
    lambdas: tuple[float, ...] = setting((0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0), ge=0, distinct=True)


def high_dim_data(cfg: HighDimConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Training and test samples, drawn with seeds ``seed`` and ``seed + 1``."""
    w = torch.full((cfg.num_inputs,), 0.01)
    X, y = linear_data(w, 0.05, cfg.num_train, cfg.noise, seed=cfg.seed)
    X_test, y_test = linear_data(w, 0.05, cfg.num_test, cfg.noise, seed=cfg.seed + 1)
    return X, y, X_test, y_test


def initial_weights(cfg: HighDimConfig) -> tuple[Tensor, Tensor]:
    """``w ~ N(0, init_std²)`` of shape (1, num_inputs) and ``b = 0``, from seed ``seed + 2``:
    every model of a run starts from these, so scratch and library runs can be compared."""
    gen = torch.Generator().manual_seed(cfg.seed + 2)
    return cfg.init_std * torch.randn(1, cfg.num_inputs, generator=gen), torch.zeros(1)


class Setup(NamedTuple):
    """A linear regression ready to train with weight decay: model, its weight, loss, optimizer."""

    model: nn.Module
    weight: Tensor
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    optimizer: Any


def weight_decay_scratch(w0: Tensor, b0: Tensor, lam: float, lr: float) -> Setup:
    """Scratch model and SGD; the loss is ``½ mean (ŷ − y)² + λ · l2_penalty(w)`` (bias not penalised)."""
    model = LinearRegressionScratch(w0.shape[1]).to(w0.device, w0.dtype)
    with torch.no_grad():
        model.weight.copy_(w0)
        model.bias.copy_(b0)

    def penalised_loss(y_hat: Tensor, y: Tensor) -> Tensor:
        return squared_loss(y_hat, y) + lam * l2_penalty(model.weight)

    return Setup(model, model.weight, penalised_loss, ScratchSGD(model.parameters(), lr=lr))


def weight_decay_library(w0: Tensor, b0: Tensor, lam: float, lr: float) -> Setup:
    """``nn.Linear`` and ``torch.optim.SGD`` with ``weight_decay=λ`` on the weight only; plain loss."""
    model = LinearRegression(w0.shape[1]).to(w0.device, w0.dtype)
    with torch.no_grad():
        model.net.weight.copy_(w0)
        model.net.bias.copy_(b0)
    optimizer = torch.optim.SGD([{"params": [model.net.weight], "weight_decay": lam},
                                 {"params": [model.net.bias], "weight_decay": 0.0}], lr=lr)
    return Setup(model, model.net.weight, lambda y_hat, y: 0.5 * F.mse_loss(y_hat, y), optimizer)


def train_setup(ctx: RunContext, cfg: HighDimConfig, setup: Setup, name: str, X: Tensor, y: Tensor,
                 held_out: TensorLoader, held_out_name: str = "test") -> dict[str, float]:
    """Train ``setup`` on ``(X, y)``; each epoch's record gains ``train_eval_loss`` (data loss on
    all of ``X``, without the penalty) and ``test_loss`` (or ``val_loss``: the data loss on
    ``held_out``). Returns the final ``train_loss`` and ``test_loss`` (or ``val_loss``)."""
    train = TensorLoader(X, y, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, device=ctx.device)
    train_eval = TensorLoader(X, y, batch_size=EVAL_BATCH, device=ctx.device)

    def record_data_losses(_trainer: Any, record: dict[str, Any]) -> None:
        record["train_eval_loss"] = data_loss(setup.model, train_eval)
        record[f"{held_out_name}_loss"] = data_loss(setup.model, held_out)

    trainer = ctx.trainer(setup.model, setup.loss_fn, setup.optimizer, train, name=name, classification=False,
                          callbacks=[record_data_losses], checkpoint_every=cfg.epochs)
    fit_quietly(ctx, trainer)
    final = {"train_loss": data_loss(setup.model, train_eval),
             f"{held_out_name}_loss": data_loss(setup.model, held_out)}
    announce(ctx, name, **final)
    return final


def lambda_axis(ax: Any, lambdas: list[float]) -> None:
    """λ on a log scale that still shows λ = 0 (linear between 0 and the smallest positive λ)."""
    positive = [lam for lam in lambdas if lam > 0]
    linthresh = min(positive) if positive else 1.0
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.set_xlim(min(lambdas) - 0.3 * linthresh, max(lambdas) * 1.5 if positive else 1.0)
    ax.set_xlabel("weight decay λ (symmetric log scale: 0 is shown)")
    ax.grid(alpha=0.3, which="both")
