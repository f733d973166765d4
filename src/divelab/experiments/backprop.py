"""Chapter 3 — backpropagation written by hand (``backprop-scratch``).

The MLP of :mod:`divelab.scratch.backprop` has no autograd at all: each layer's backward
pass is a formula in code. Before training, the experiment checks that formula against
autograd on a real batch (the same weights in an ``nn.Sequential`` twin, gradients by
``loss.backward()``), then trains both side by side for a few steps (``torch.optim.SGD``
on the twin) to show they stay equal step for step. Then it trains the hand-written
network on Fashion-MNIST with its own short loop — the shared :class:`Trainer` calls
``loss.backward()``, which is exactly what this network does without.

This experiment writes ``metrics.jsonl``, ``summary.json`` and its figures but no
checkpoint, so it cannot be resumed (it is short: 10 epochs train in about 6 s on 2 CPU
cores, the whole run takes about 12 s).
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.config import FashionConfig, setting
from divelab.data import TensorLoader, fashion_mnist
from divelab.experiment import Experiment, RunContext
from divelab.report.figures import new_figure, training_curves
from divelab.scratch.backprop import MLP, Flatten, Linear, ReLU, Sigmoid, Tanh, build_mlp
from divelab.train.progress import Progress
from divelab.train.trainer import TrainingDiverged


@dataclass
class BackpropConfig(FashionConfig):
    """The course's MLP (784-``hidden``-10, d2l's N(0, 0.01²) init, SGD lr 0.1, batch 256).

    ``twin_steps`` SGD steps are taken side by side with the autograd twin before training.
    """

    min_epochs: ClassVar[int] = 0  # epochs = 0: the networks at their initial weights

    hidden: int = setting(256, ge=1)
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    twin_steps: int = setting(6, ge=1)


# ---- the autograd twin ----------------------------------------------------------------------

TWIN_LAYERS: dict[type, type[nn.Module]] = {Flatten: nn.Flatten, ReLU: nn.ReLU, Sigmoid: nn.Sigmoid, Tanh: nn.Tanh}


def torch_twin(model: MLP) -> nn.Sequential:
    """The same network from ``nn`` layers, with copies of ``model``'s current weights.

    Parameter names match :meth:`MLP.parameters_and_grads` (``"1.weight"`` …).
    """
    modules: list[nn.Module] = []
    for layer in model.layers:
        if isinstance(layer, Linear):
            # skip_init: no random init, so building the twin leaves the global RNG untouched
            twin = nn.utils.skip_init(nn.Linear, layer.in_features, layer.out_features,
                                      dtype=layer.weight.dtype, device=layer.weight.device)
            with torch.no_grad():
                twin.weight.copy_(layer.weight)
                twin.bias.copy_(layer.bias)
            modules.append(twin)
        else:
            modules.append(TWIN_LAYERS[type(layer)]())
    return nn.Sequential(*modules)


def gradient_differences(model: MLP, twin: nn.Module, x: Tensor, y: Tensor) -> dict[str, float]:
    """``max |hand − autograd|`` of each parameter's gradient of the mean cross-entropy on ``(x, y)``."""
    model.loss(model.forward(x), y)
    model.backward()
    twin.zero_grad(set_to_none=True)
    F.cross_entropy(twin(x), y).backward()
    autograd = {name: p.grad for name, p in twin.named_parameters()}
    return {name: (grad - autograd[name]).abs().max().item() for name, _param, grad in model.parameters_and_grads()}


def max_weight_difference(model: MLP, twin: nn.Module) -> float:
    params = dict(twin.named_parameters())
    return max((param - params[name]).abs().max().item() for name, param, _grad in model.parameters_and_grads())


def first_batches(loader: TensorLoader, count: int) -> list[tuple[Tensor, Tensor]]:
    """The first ``count`` training batches, running into further epochs if one is too short."""
    out: list[tuple[Tensor, Tensor]] = []
    epoch = 1
    while len(out) < count:
        out += [(x, y) for _, (x, y) in zip(range(count - len(out)), loader.batches(epoch))]
        epoch += 1
    return out


def train_side_by_side(model: MLP, twin: nn.Module, batches: list[tuple[Tensor, Tensor]],
                       lr: float) -> list[dict[str, float]]:
    """One SGD step per batch on both networks; per step: both losses and the largest weight gap."""
    optimizer = torch.optim.SGD(twin.parameters(), lr=lr)
    steps = []
    for x, y in batches:
        loss = model.loss(model.forward(x), y)
        model.backward()
        model.sgd_step(lr)

        twin_loss = F.cross_entropy(twin(x), y)
        optimizer.zero_grad(set_to_none=True)
        twin_loss.backward()
        optimizer.step()
        steps.append({"loss": loss.item(), "twin_loss": twin_loss.item(),
                      "weight_diff": max_weight_difference(model, twin)})
    return steps


# ---- training without autograd --------------------------------------------------------------

def evaluate(model: MLP, loader: TensorLoader) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over every batch of ``loader``."""
    device = loader.tensors[0].device
    loss_sum, correct = torch.zeros((), device=device), torch.zeros((), dtype=torch.int64, device=device)
    for x, y in loader:
        logits = model.forward(x)
        loss_sum += model.loss(logits, y) * len(y)
        correct += (logits.argmax(-1) == y).sum()
    return {"loss": loss_sum.item() / loader.num_samples, "acc": correct.item() / loader.num_samples}


def train_epoch(model: MLP, loader: TensorLoader, epoch: int, lr: float, progress: Progress) -> dict[str, float]:
    """One epoch of forward → loss → hand-written backward → SGD step per batch."""
    device = loader.tensors[0].device
    loss_sum, correct = torch.zeros((), device=device), torch.zeros((), dtype=torch.int64, device=device)
    start = time.perf_counter()
    seen = 0
    for batch, (x, y) in enumerate(loader.batches(epoch), start=1):
        logits = model.forward(x)
        loss = model.loss(logits, y)
        model.backward()
        model.sgd_step(lr)
        loss_sum += loss * len(y)
        correct += (logits.argmax(-1) == y).sum()
        seen += len(y)
        if batch % 10 == 0 or batch == len(loader):
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(f"the loss became NaN or infinite in epoch {epoch} (batch {batch}); "
                                       "lower the learning rate (--lr) and run again")
            progress.update(batch, seen / max(time.perf_counter() - start, 1e-9), value)
    return {"train_loss": loss_sum.item() / seen, "train_acc": correct.item() / seen}


def fit(model: MLP, train: TensorLoader, test: TensorLoader, cfg: BackpropConfig,
        ctx: RunContext) -> list[dict[str, Any]]:
    """Train for ``cfg.epochs`` epochs; one record per epoch, appended to ``metrics.jsonl``."""
    progress = Progress(cfg.epochs, len(train), enabled=ctx.progress)
    metrics_path = ctx.out_dir / "metrics.jsonl"
    metrics_path.write_text("")
    history: list[dict[str, Any]] = []
    seconds = 0.0
    try:
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            progress.start_epoch(epoch)
            record: dict[str, Any] = {"epoch": epoch, **train_epoch(model, train, epoch, cfg.lr, progress)}
            record |= {f"test_{key}": value for key, value in evaluate(model, test).items()}
            seconds += time.perf_counter() - start
            record |= {"lr": cfg.lr, "seconds": round(seconds, 3)}
            history.append(record)
            progress.end_epoch(record)
            with metrics_path.open("a") as f:
                f.write(json.dumps(record) + "\n")
    finally:
        progress.close()
    ctx.history, ctx.seconds = history, seconds
    return history


# ---- the experiment -------------------------------------------------------------------------

def _twin_figure(ctx: RunContext, graph: str, names: list[str], diffs64: list[float], diffs32: list[float],
                 steps: list[dict[str, float]]) -> None:
    """Gradient gaps per parameter; losses and weight gap of the side-by-side steps."""
    fig, axes = new_figure(ncols=3, size=(4.2, 3.4))
    tiny = 1e-300  # exact agreement would be 0, which a log axis cannot show
    ax = axes[0][0]
    positions = torch.arange(len(names), dtype=torch.float64)
    ax.bar(positions - 0.2, [max(d, tiny) for d in diffs32], width=0.4, label="float32")
    ax.bar(positions + 0.2, [max(d, tiny) for d in diffs64], width=0.4, label="float64")
    ax.set_xticks(positions.tolist(), names, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("max |hand − autograd|")
    ax.set_title("gradient on one real batch")
    ax.legend(fontsize=8, loc="center")

    step_numbers = list(range(1, len(steps) + 1))
    ax = axes[0][1]
    ax.plot(step_numbers, [s["loss"] for s in steps], marker="o", label="hand-written backprop")
    ax.plot(step_numbers, [s["twin_loss"] for s in steps], marker="x", linestyle=":", color="k", label="autograd twin")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("batch loss")
    ax.set_title("side by side (float64)")
    ax.legend(fontsize=8)

    ax = axes[0][2]
    ax.plot(step_numbers, [max(s["weight_diff"], tiny) for s in steps], marker="o")
    ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("max |W_hand − W_autograd|")
    ax.set_title("weights after each step")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    fig.suptitle(graph, fontsize=10)
    ctx.save_figure(fig, "twin")


def backprop_scratch(cfg: BackpropConfig, ctx: RunContext) -> dict[str, Any]:
    data, train, test = fashion_mnist.loaders(cfg.batch_size, cfg.seed, ctx.device, cfg.data_dir)
    model = build_mlp([784, cfg.hidden, 10], cfg.activation, device=ctx.device)
    graph = model.describe_graph()
    ctx.open()

    # 1. gradients on a real batch, in the training dtype and in float64
    x, y = next(iter(train.batches(1)))
    names = [name for name, _param, _grad in model.parameters_and_grads()]
    model32 = copy.deepcopy(model)
    diffs32 = gradient_differences(model32, torch_twin(model32), x, y)
    model64 = copy.deepcopy(model).to(torch.float64)
    diffs64 = gradient_differences(model64, torch_twin(model64), x.double(), y)

    # 2. a few SGD steps side by side with the autograd twin (float64, same batches, same lr)
    batches = [(xb.double(), yb) for xb, yb in first_batches(train, cfg.twin_steps)]
    steps = train_side_by_side(model64, torch_twin(model64), batches, cfg.lr)
    _twin_figure(ctx, graph, names, [diffs64[n] for n in names], [diffs32[n] for n in names], steps)

    # 3. the real training run, no autograd anywhere
    history = fit(model, train, test, cfg, ctx)
    if history:
        ctx.save_figure(training_curves(history, "hand-written backprop, " + graph), "curves")
    final = history[-1] if history else {"train_loss": None, "train_acc": None,
                                          **{f"test_{k}": v for k, v in evaluate(model, test).items()}}
    return {
        "graph": graph,
        "max_grad_diff": max(diffs64.values()),
        "max_grad_diff_float32": max(diffs32.values()),
        "grad_diff_parameters": names,
        "grad_diff_per_parameter": [diffs64[n] for n in names],
        "twin_steps": len(steps),
        "max_weight_diff_after_steps": max(s["weight_diff"] for s in steps),
        "max_twin_loss_diff": max(abs(s["loss"] - s["twin_loss"]) for s in steps),
        **{key: final[key] for key in ("train_loss", "train_acc", "test_loss", "test_acc")},
        "parameters": model.num_parameters(),
        "data": str(data.source),
    }


EXPERIMENTS = [
    Experiment("backprop-scratch", "backprop",
               "MLP with hand-written forward and backward passes (no autograd), checked against autograd",
               BackpropConfig, backprop_scratch,
               headline=("test_acc", "max_grad_diff", "max_weight_diff_after_steps")),
]
