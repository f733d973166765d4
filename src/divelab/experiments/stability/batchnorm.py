"""``batchnorm-scratch`` / ``batchnorm``: LeNet with and without batch norm — the scratch
:class:`~divelab.scratch.batchnorm.BatchNormScratch` or ``nn.BatchNorm`` — from the same
weights: epochs to a target test accuracy. The two experiments are one scratch + library pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator
from torch import nn

from divelab.config import FashionConfig, setting
from divelab.data import fashion_mnist
from divelab.experiment import Experiment, RunContext
from divelab.models.lenet import LeNet
from divelab.report.figures import new_figure
from divelab.scratch.batchnorm import BatchNormScratch


@dataclass
class BatchNormConfig(FashionConfig):
    """LeNet on Fashion-MNIST, as d2l: batch 256, SGD with ``lr`` 1.0 with batch norm and
    ``lr_no_bn`` 0.9 without, 10 epochs, both from the same conv and Linear weights.
    ``target_acc`` is the test accuracy whose first epoch is reported. One epoch takes ~3 s
    without BN, ~5 s with ``nn.BatchNorm`` and ~7 s with the scratch BN on 2 idle CPU cores,
    so both runs take ≲ 2 minutes.
    """

    epochs: int = 10
    batch_size: int = 256
    lr: float = 1.0
    lr_no_bn: float = setting(0.9, gt=0)
    target_acc: float = setting(0.80, gt=0, le=1)


def epochs_to_target(history: list[dict[str, Any]], target: float, key: str = "test_acc") -> int | None:
    """The first epoch whose ``key`` reaches ``target``, or None if none does."""
    return next((r["epoch"] for r in history if r[key] >= target), None)


def _seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` right after seeding: LeNets with and without batch norm get the same conv and
    Linear weights (batch norm's own start, γ = 1 and β = 0, draws nothing)."""
    torch.manual_seed(seed)
    return build()


def _batchnorm(cfg: BatchNormConfig, ctx: RunContext, norm_layer: Callable[..., nn.Module] | None) -> dict[str, Any]:
    data, train, test = fashion_mnist.loaders(cfg.batch_size, cfg.seed, ctx.device, cfg.data_dir)
    runs = {"bn": (_seeded(cfg.seed, lambda: LeNet(batch_norm=True, norm_layer=norm_layer)), cfg.lr),
            "no-bn": (_seeded(cfg.seed, LeNet), cfg.lr_no_bn)}
    summary: dict[str, Any] = {"target_acc": cfg.target_acc}
    histories = {}
    for name, (model, lr) in runs.items():
        model.to(ctx.device)
        trainer = ctx.trainer(model, F.cross_entropy, torch.optim.SGD(model.parameters(), lr=lr), train, test, name=name)
        histories[name] = ctx.fit(trainer, curves=False)
        last = histories[name][-1] if histories[name] else {}
        prefix = name.replace("-", "_")
        summary |= {f"{prefix}_{k}": last.get(k) for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
        summary[f"{prefix}_epochs_to_target"] = epochs_to_target(histories[name], cfg.target_acc)
        summary[f"{prefix}_seconds"] = round(trainer.seconds, 3)
    reached = summary["bn_epochs_to_target"], summary["no_bn_epochs_to_target"]
    summary["epochs_saved"] = reached[1] - reached[0] if None not in reached else None
    _batchnorm_figure(ctx, histories, cfg)
    summary["data"] = str(data.source)
    return summary


def _batchnorm_figure(ctx: RunContext, histories: dict[str, list[dict[str, Any]]], cfg: BatchNormConfig) -> None:
    fig, axes = new_figure(ncols=2, size=(4.8, 3.8))
    labels = {"bn": f"with batch norm (lr {cfg.lr})", "no-bn": f"without (lr {cfg.lr_no_bn})"}
    for name, history in histories.items():
        epochs = [r["epoch"] for r in history]
        reached = epochs_to_target(history, cfg.target_acc)
        note = f", target at epoch {reached}" if reached else ", target not reached"
        axes[0][0].plot(epochs, [r["test_acc"] for r in history], marker="o", markersize=3, label=labels[name] + note)
        axes[0][1].plot(epochs, [r["train_loss"] for r in history], marker="o", markersize=3, label=labels[name])
    axes[0][0].axhline(cfg.target_acc, color="gray", linestyle="--", linewidth=1, label=f"target {cfg.target_acc:.2f}")
    axes[0][0].set_ylabel("test accuracy")
    axes[0][0].set_title("LeNet on Fashion-MNIST")
    axes[0][1].set_ylabel("train loss")
    axes[0][1].set_yscale("log")
    for ax in axes[0]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "accuracy")


def batchnorm_scratch(cfg: BatchNormConfig, ctx: RunContext) -> dict[str, Any]:
    return _batchnorm(cfg, ctx, BatchNormScratch)


def batchnorm(cfg: BatchNormConfig, ctx: RunContext) -> dict[str, Any]:
    return _batchnorm(cfg, ctx, None)


EXPERIMENTS = [
    Experiment("batchnorm-scratch", "stability",
               "LeNet with scratch batch norm vs without: epochs to a target test accuracy",
               BatchNormConfig, batchnorm_scratch, headline=("bn_test_acc", "no_bn_test_acc")),
    Experiment("batchnorm", "stability",
               "LeNet with nn.BatchNorm vs without: epochs to a target test accuracy",
               BatchNormConfig, batchnorm, headline=("bn_test_acc", "no_bn_test_acc")),
]
