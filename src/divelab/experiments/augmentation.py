"""Chapter 2 — data augmentation against overfitting (``augmentation``).

A small CNN learns from only ``train_size`` Fashion-MNIST images, twice from the same
initial weights: once on the plain images (sub-run ``plain``) and once on images that
are randomly rotated, scaled, shifted and mirrored afresh every epoch (sub-run
``augmented``, :mod:`divelab.data.augment`). The plain run memorises its few images
(train accuracy → 1) while test accuracy stalls; augmentation makes memorising harder and
narrows the train–test gap. Train accuracy is measured in eval mode on the un-augmented
training images, so both runs are judged on the same images.

Sizes are chosen for a laptop CPU: 2,000 training images, a CNN of two strided conv
layers (16/32 channels, about 207k parameters), 40 epochs of 32 batches; both runs,
with train and test accuracy measured after every epoch, take about a minute on 2 CPU
cores.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from divelab.config import FashionConfig, setting
from divelab.data import TensorLoader, fashion_mnist
from divelab.data.augment import Augment, AugmentedLoader
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.report.figures import image_grid, new_figure
from divelab.train.callbacks import Callback
from divelab.train.trainer import Trainer, evaluate

RUNS = ("plain", "augmented")


@dataclass
class AugmentationConfig(FashionConfig):
    """A ``train_size`` subset; SGD with momentum, its learning rate decayed from ``lr`` to 0
    along a cosine over the epochs (so both runs end settled, not mid-oscillation, and
    their final accuracies can be compared); the augmentation settings of :class:`Augment`.

    ``test_size`` test images (all 10,000 by default) measure generalisation.
    """

    epochs: int = 40
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = setting(0.9, ge=0, lt=1)
    train_size: int = setting(2000, ge=1)
    test_size: int = setting(10000, ge=1)
    width: int = setting(16, ge=1)
    padding: int = 2
    flip_p: float = 0.5
    degrees: float = 5.0
    scale_min: float = 0.95
    scale_max: float = 1.05
    translate: float = 0.0

    def validate(self) -> None:
        super().validate()
        try:
            self.augment()
        except ValueError as exc:
            raise UserError(f"bad augmentation setting: {exc}") from None

    def augment(self) -> Augment:
        return Augment(padding=self.padding, flip_p=self.flip_p, degrees=self.degrees,
                       scale=(self.scale_min, self.scale_max), translate=self.translate)


def small_cnn(width: int = 16, num_classes: int = 10) -> nn.Sequential:
    """Two strided conv + ReLU stages (28 → 14 → 7), then a 128-unit hidden layer.

    Strided convolutions instead of conv + max-pool: about 5× cheaper on a CPU, and the
    effect of augmentation is the same.
    """
    return nn.Sequential(
        nn.Conv2d(1, width, 5, stride=2, padding=2), nn.ReLU(),              # (N, w, 14, 14)
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),      # (N, 2w, 7, 7)
        nn.Flatten(), nn.Linear(2 * width * 7 * 7, 128), nn.ReLU(), nn.Linear(128, num_classes),
    )


class CosineDecay(Callback):
    """Learning rate of epoch ``e`` (1-based): ``lr_e = lr · (1 + cos(π (e − 1) / epochs)) / 2``.

    Set before every optimizer step from the trainer's epoch alone, so it keeps no state
    and a resumed run follows the same schedule.
    """

    def __init__(self, lr: float, epochs: int):
        self.lr, self.epochs = lr, max(epochs, 1)

    def after_backward(self, trainer: Trainer) -> None:
        lr = 0.5 * self.lr * (1 + math.cos(math.pi * (trainer.epoch - 1) / self.epochs))
        for group in trainer.optimizer.param_groups:
            group["lr"] = lr




def _train(cfg: AugmentationConfig, ctx: RunContext, name: str, model: nn.Module, train: Any,
           clean_train: TensorLoader, test: TensorLoader) -> list[dict[str, Any]]:
    """Fit ``model``; each epoch's record gains eval-mode accuracy on the clean training images and the gap."""
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)

    def measure_train_accuracy(_trainer: Any, record: dict[str, Any]) -> None:
        record["train_eval_acc"] = evaluate(model, clean_train, F.cross_entropy, classification=True)["acc"]
        record["gap"] = record["train_eval_acc"] - record["test_acc"]

    trainer = ctx.trainer(model, F.cross_entropy, optimizer, train, test, name=name,
                          callbacks=[measure_train_accuracy, CosineDecay(cfg.lr, cfg.epochs)])
    return ctx.fit(trainer, curves=False)


def _examples_figure(ctx: RunContext, images: torch.Tensor, augment: Augment, seed: int,
                     ncols: int = 8, copies: int = 3) -> None:
    """Row 1: training images; rows below: ``copies`` random augmentations of each."""
    originals = images[:ncols]
    rows = [originals] + [augment(originals, torch.Generator().manual_seed(seed + k)) for k in range(copies)]
    grid = torch.cat(rows).squeeze(1).cpu().numpy()  # (rows·ncols, 1, H, W) -> (rows·ncols, H, W)
    titles = ["original"] * len(originals) + [f"augmented {k + 1}" for k in range(copies) for _ in originals]
    ctx.save_figure(image_grid(grid, titles, ncols=ncols, title=f"{augment}"), "examples")


def _accuracy_figure(ctx: RunContext, histories: dict[str, list[dict[str, Any]]], train_size: int) -> None:
    """Train (eval mode, dashed) and test accuracy of both runs per epoch, and their gap."""
    fig, axes = new_figure(ncols=2, size=(5.0, 3.8))
    for color, (name, history) in zip(("C0", "C1"), histories.items()):
        epochs = [r["epoch"] for r in history]
        axes[0][0].plot(epochs, [r["train_eval_acc"] for r in history], color=color, linestyle="--",
                        label=f"{name}: train")
        axes[0][0].plot(epochs, [r["test_acc"] for r in history], color=color, label=f"{name}: test")
        axes[0][1].plot(epochs, [r["gap"] for r in history], color=color, marker="o", markersize=3, label=name)
    axes[0][0].set_ylabel("accuracy")
    axes[0][0].set_title(f"{train_size} training images")
    axes[0][1].set_ylabel("train acc − test acc")
    axes[0][1].set_title("generalisation gap")
    axes[0][1].axhline(0, color="k", linewidth=0.8)
    for ax in axes[0]:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ctx.save_figure(fig, "accuracy")


def augmentation(cfg: AugmentationConfig, ctx: RunContext) -> dict[str, Any]:
    data = fashion_mnist.load(cfg.data_dir)
    x_train, y_train = fashion_mnist.subset(data.train_images, data.train_labels, cfg.train_size, cfg.seed)
    x_test, y_test = fashion_mnist.subset(data.test_images, data.test_labels, cfg.test_size, cfg.seed + 1)
    augment = cfg.augment()
    plain = TensorLoader(x_train, y_train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, device=ctx.device)
    clean_train = TensorLoader(x_train, y_train, batch_size=1000, device=ctx.device)
    test = TensorLoader(x_test, y_test, batch_size=1000, device=ctx.device)
    # the augmentation stream gets its own seed, apart from the shuffling seed
    loaders = {"plain": plain, "augmented": AugmentedLoader(plain, augment, seed=cfg.seed + 7919)}

    first = small_cnn(cfg.width).to(ctx.device)
    models = {"plain": first, "augmented": copy.deepcopy(first)}  # the same initial weights
    ctx.open()
    _examples_figure(ctx, x_train, augment, cfg.seed)
    histories = {name: _train(cfg, ctx, name, models[name], loaders[name], clean_train, test) for name in RUNS}
    if all(histories.values()):
        _accuracy_figure(ctx, histories, len(x_train))

    summary: dict[str, Any] = {"train_size": len(x_train), "test_size": len(x_test),
                               "parameters": sum(p.numel() for p in first.parameters())}
    for name in RUNS:
        train_acc = evaluate(models[name], clean_train, F.cross_entropy, classification=True)["acc"]
        test_acc = evaluate(models[name], test, F.cross_entropy, classification=True)["acc"]
        summary |= {f"{name}_train_acc": train_acc, f"{name}_test_acc": test_acc, f"{name}_gap": train_acc - test_acc}
    summary["gap_reduction"] = summary["plain_gap"] - summary["augmented_gap"]
    summary["test_acc_gain"] = summary["augmented_test_acc"] - summary["plain_test_acc"]
    summary["augment"] = str(augment)
    summary["data"] = str(data.source)
    return summary


EXPERIMENTS = [
    Experiment("augmentation", "generalization",
               "small training subset with and without augmentation: the train–test accuracy gap",
               AugmentationConfig, augmentation,
               headline=("plain_test_acc", "augmented_test_acc", "plain_gap", "augmented_gap")),
]
