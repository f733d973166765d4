"""``polyfit``: under-, right and overfitting — the book's cubic
``5 + 1.2x − 3.4x²/2! + 5.6x³/3! + ε`` fitted by SGD with polynomials of degree 1 (underfits),
3 (the true degree) and 19 (all 20 features, the book's "degree-20" fit, overfits) on 20
samples, tested on 1,000. The default run took 14 s of training on a busy 2-core machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from divelab.config import RunConfig, setting
from divelab.data import TensorLoader
from divelab.data.polynomial import CUBIC, polynomial_data, polynomial_features
from divelab.experiment import Experiment, RunContext
from divelab.experiments.generalization.common import EVAL_BATCH, MAX_DEGREE, announce, data_loss, fit_quietly
from divelab.report.figures import new_figure
from divelab.scratch.losses import squared_loss


@dataclass
class PolyFitConfig(RunConfig):
    """The book's polynomial fitting on few samples.

    20 training samples rather than the book's 100, so that the 20-feature fit has as many
    coefficients as data and visibly overfits. The features ``x^i / i!`` are badly
    conditioned (the high powers are tiny), so plain SGD at the book's lr 0.01 would take
    tens of thousands of steps to fit even the cubic; momentum 0.9 with lr 0.05 gets there
    in 400 epochs of 2 batches.
    """

    epochs: int = 400
    batch_size: int = 10
    lr: float = 0.05
    momentum: float = setting(0.9, ge=0, lt=1)
    num_train: int = setting(20, ge=1)
    num_test: int = setting(1000, ge=1)
    noise: float = setting(0.1, ge=0)
    # polynomial degrees: degree d uses the d + 1 features x^0/0! … x^d/d!
    degrees: tuple[int, ...] = setting((1, 3, 19), ge=0, le=MAX_DEGREE, distinct=True)


def polynomial_model(num_features: int) -> nn.Module:
    """``ŷ = Φ(x) w`` with no bias (feature 0 is the constant 1), starting from ``w = 0``."""
    model = nn.Sequential(nn.Linear(num_features, 1, bias=False), nn.Flatten(start_dim=0))  # (n, 1) -> (n,)
    nn.init.zeros_(model[0].weight)
    return model


def polyfit(cfg: PolyFitConfig, ctx: RunContext) -> dict[str, Any]:
    degrees = cfg.degrees
    num_features = max(max(degrees) + 1, len(CUBIC))
    x, features, y = polynomial_data(cfg.num_train + cfg.num_test, num_features, noise=cfg.noise, seed=cfg.seed)
    n = cfg.num_train
    summary: dict[str, Any] = {"num_train": n, "num_test": cfg.num_test, "noise_loss": cfg.noise ** 2 / 2}
    histories, models = {}, {}
    for degree in degrees:
        k = degree + 1
        model = polynomial_model(k).to(ctx.device)
        train = TensorLoader(features[:n, :k], y[:n], batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed,
                             device=ctx.device)
        train_eval = TensorLoader(features[:n, :k], y[:n], batch_size=EVAL_BATCH, device=ctx.device)
        test = TensorLoader(features[n:, :k], y[n:], batch_size=EVAL_BATCH, device=ctx.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
        trainer = ctx.trainer(model, squared_loss, optimizer, train, test, name=f"degree-{degree}",
                              classification=False, checkpoint_every=cfg.epochs)
        histories[degree] = fit_quietly(ctx, trainer)
        models[degree] = model
        summary[f"degree_{degree}_train_loss"] = data_loss(model, train_eval)
        summary[f"degree_{degree}_test_loss"] = data_loss(model, test)
        announce(ctx, trainer.name, train_loss=summary[f"degree_{degree}_train_loss"],
                  test_loss=summary[f"degree_{degree}_test_loss"])
    if 3 in models:  # the true degree: are the true coefficients recovered?
        learned = models[3][0].weight.detach().reshape(-1).cpu()
        summary["degree_3_coefficients"] = [round(v, 4) for v in learned.tolist()]
        summary["true_coefficients"] = list(CUBIC)
        summary["degree_3_coefficient_error"] = (learned - torch.tensor(CUBIC)).abs().max().item()
    _polyfit_loss_figure(ctx, histories, summary["noise_loss"])
    _polyfit_curve_figure(ctx, models, x[:n], y[:n], x[n:], y[n:])
    return summary


def _polyfit_loss_figure(ctx: RunContext, histories: dict[int, list[dict[str, Any]]], noise_loss: float) -> None:
    fig, axes = new_figure(size=(6.5, 4.5))
    ax = axes[0][0]
    for i, (degree, history) in enumerate(histories.items()):
        epochs = [r["epoch"] for r in history]
        ax.plot(epochs, [r["train_loss"] for r in history], color=f"C{i}", label=f"degree {degree}: train")
        ax.plot(epochs, [r["test_loss"] for r in history], color=f"C{i}", linestyle="--",
                label=f"degree {degree}: test")
    ax.axhline(noise_loss, color="k", linestyle=":", label="noise level σ²/2")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss ½(ŷ − y)²")
    ax.set_title("underfit (degree 1), fit (3), overfit (19)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncols=2)
    ctx.save_figure(fig, "losses")


@torch.inference_mode()
def _polyfit_curve_figure(ctx: RunContext, models: dict[int, nn.Module], x_train: Tensor, y_train: Tensor,
                          x_test: Tensor, y_test: Tensor) -> None:
    grid = torch.linspace(x_test.min().item(), x_test.max().item(), 400)
    fig, axes = new_figure(size=(6.5, 4.5))
    ax = axes[0][0]
    ax.scatter(x_test, y_test, s=4, color="0.75", label="test samples")
    ax.scatter(x_train, y_train, s=25, color="k", zorder=3, label="training samples")
    ax.plot(grid, polynomial_features(grid, len(CUBIC)) @ torch.tensor(CUBIC), color="k", linestyle=":",
            label="true cubic")
    for i, (degree, model) in enumerate(models.items()):
        k = model[0].in_features
        ax.plot(grid, model(polynomial_features(grid, k).to(ctx.device)).cpu(), color=f"C{i}",
                label=f"degree {degree}")
    low, high = y_test.min().item(), y_test.max().item()
    margin = 0.15 * (high - low)
    ax.set_ylim(low - margin, high + margin)  # the overfit curve may leave the data's range: cut it there
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("fitted polynomials (test samples beyond the training range expose the overfit)")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "fits")


EXPERIMENTS = [
    Experiment("polyfit", "generalization",
               "cubic data fitted with degree 1 / 3 / 19 polynomials on 20 samples: underfit, fit, overfit",
               PolyFitConfig, polyfit, headline=("degree_1_test_loss", "degree_3_test_loss", "degree_19_train_loss",
                                                 "degree_19_test_loss")),
]
