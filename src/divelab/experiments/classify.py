"""Training a classifier on Fashion-MNIST: what the classification experiments share.

:func:`train_classifier` loads the data, trains the model with the optimiser and schedule
named in the config (``torch.optim`` or, with ``scratch=True``, the hand-written twins),
draws the training curves and a grid of test predictions, and returns the summary.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from divelab.analysis.flops import count_flops
from divelab.config import FashionOptimConfig
from divelab.data import fashion_mnist
from divelab.data.augment import Augment, AugmentedLoader
from divelab.experiment import RunContext
from divelab.report.figures import image_grid
from divelab.train.optim import build_optimizer, build_schedule

LossFn = Any


def train_classifier(cfg: FashionOptimConfig, ctx: RunContext, model: nn.Module, *,
                     loss_fn: LossFn = F.cross_entropy, scratch: bool = False,
                     augment: Augment | None = None) -> dict[str, Any]:
    """Train ``model`` on Fashion-MNIST for ``cfg.epochs`` and summarise the last epoch;
    ``augment`` transforms each training batch (seeded per batch, so resuming is exact)."""
    data, train, test = fashion_mnist.loaders(cfg.batch_size, cfg.seed, ctx.device, cfg.data_dir)
    if augment is not None:
        train = AugmentedLoader(train, augment, seed=cfg.seed + 1)
    model = model.to(ctx.device)
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        # weights laid out (out, kh, kw, in): oneDNN's fast convolution path; ~1.4× per LeNet or
        # ResNet step on a CPU (benchmarks/trainer_vs_dataloader.py --model lenet); the same math
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(cfg, model.parameters(), scratch=scratch)
    scheduler = build_schedule(cfg, optimizer, len(train), scratch=scratch)
    history = ctx.fit(ctx.trainer(model, loss_fn, optimizer, train, test, scheduler=scheduler))
    prediction_figure(ctx, model, data)
    last = history[-1] if history else {}
    summary = {key: last.get(key) for key in ("train_loss", "train_acc", "test_loss", "test_acc")}
    if history:
        summary["seconds_per_epoch"] = sum(r["train_seconds"] for r in history) / len(history)
        summary |= _utilisation(ctx, model, history, len(data.train_labels))
    return summary | {"parameters": sum(p.numel() for p in model.parameters()), "data": str(data.source)}


def _utilisation(ctx: RunContext, model: nn.Module, history: list[dict[str, Any]], images: int) -> dict[str, float]:
    """Model FLOP utilisation of the training (:meth:`RunContext.utilisation`)."""
    macs = count_flops(model, (1, *fashion_mnist.IMAGE_SHAPE)).macs
    return ctx.utilisation(macs, images * len(history), sum(r["train_seconds"] for r in history))


@torch.inference_mode()
def prediction_figure(ctx: RunContext, model: nn.Module, data: fashion_mnist.FashionMNIST, n: int = 24) -> None:
    """The first ``n`` test images with true and predicted class; mistakes marked with ✗."""
    model.eval()
    images = data.test_images[:n]
    predicted = model(fashion_mnist.to_float(images).to(ctx.device)).argmax(-1).cpu()
    names = fashion_mnist.CLASS_NAMES
    titles = [f"{names[t]}\n{'' if t == p else '✗ '}{names[p]}"
              for t, p in zip(data.test_labels[:n].tolist(), predicted.tolist())]
    ctx.save_figure(image_grid(images.numpy(), titles, title="true / predicted"), "predictions")
