"""Chapter 4 — optimisers and learning-rate schedules.

- ``optimizers``: SGD, momentum, Nesterov, Adagrad, RMSProp, Adam (the hand-written ones of
  ``divelab.scratch.optim``) on three 2-D landscapes — steps to reach the minimum and the
  paths they take, with their ``torch.optim`` twins following the same paths — then the same
  optimisers (and AdamW) training the course's MLP on Fashion-MNIST for a fixed budget.
- ``lr-schedules``: constant, step, exponential, cosine and warm-up schedules, the hand-written
  ones of ``divelab.scratch.schedules`` against ``torch.optim.lr_scheduler`` step by step,
  then each one training the MLP.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, get_args

import torch
import torch.nn.functional as F

from divelab.analysis import landscapes
from divelab.analysis.landscapes import LANDSCAPES, Landscape, Trajectory
from divelab.config import (FashionConfig, FashionOptimConfig, OptimConfig, OptimizerName, ScheduleName,
                             parse_list, setting)
from divelab.data import TensorLoader, fashion_mnist
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.models import MLP
from divelab.report.figures import new_figure
from divelab.train.optim import build_optimizer, build_schedule

OPTIMIZER_NAMES: tuple[str, ...] = get_args(OptimizerName)

# Learning rate of each optimiser on each landscape: the one of 0.0003, 0.001, 0.002, 0.003,
# 0.01, 0.03, 0.1, 0.3, 1 that reaches the threshold (to stay) in the fewest steps.
LANDSCAPE_LRS: dict[str, dict[str, float]] = {
    "ill-conditioned": {"sgd": 0.3, "momentum": 0.03, "nesterov": 0.3, "adagrad": 1.0, "rmsprop": 0.1, "adam": 0.1},
    "rosenbrock": {"sgd": 0.002, "momentum": 0.003, "nesterov": 0.001, "adagrad": 1.0, "rmsprop": 0.003,
                   "adam": 0.1},
    "saddle": {"sgd": 0.3, "momentum": 0.1, "nesterov": 0.3, "adagrad": 1.0, "rmsprop": 0.1, "adam": 0.1},
}
TWIN_STEPS = 100  # steps over which scratch and torch.optim paths are compared


def _parse_lrs(text: str) -> dict[str, float]:
    """``"sgd=0.1,adam=0.001"`` → ``{"sgd": 0.1, "adam": 0.001}``."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name.strip() not in OPTIMIZER_NAMES:
            raise UserError(f"lrs: unknown optimiser {name.strip()!r}; known: {', '.join(OPTIMIZER_NAMES)}")
        (lr,) = parse_list(f"lrs ({name.strip()})", value)
        if lr <= 0:
            raise UserError(f"lrs: the learning rate of {name.strip()} must be > 0, got {lr}")
        out[name.strip()] = lr
    return out


def _optim_config(name: str, lr: float, momentum: float = 0.9) -> OptimConfig:
    """Settings of one optimiser: torch's defaults, AdamW with its default decoupled decay 0.01."""
    return OptimConfig(optimizer=name, lr=lr, momentum=momentum,  # type: ignore[arg-type]
                       weight_decay=0.01 if name == "adamw" else 0.0)


def _train_mlp(cfg: FashionConfig, ctx: RunContext, loaders: tuple[TensorLoader, TensorLoader], name: str,
               optim_cfg: OptimConfig) -> list[dict[str, Any]]:
    """Train a fresh course MLP (784-256-10, same seed for every sub-run) with ``optim_cfg``'s
    optimiser and schedule, as the named sub-run ``name``."""
    train, test = loaders
    torch.manual_seed(cfg.seed)
    model = MLP(784, [256], 10).to(ctx.device)
    optimizer = build_optimizer(optim_cfg, model.parameters())
    scheduler = build_schedule(optim_cfg, optimizer, len(train))
    trainer = ctx.trainer(model, F.cross_entropy, optimizer, train, test, name=name, scheduler=scheduler)
    return ctx.fit(trainer, curves=False)


def _curves_figure(ctx: RunContext, runs: dict[str, list[dict[str, Any]]], title: str, name: str) -> None:
    """Training loss and test accuracy per epoch, one line per sub-run."""
    fig, axes = new_figure(ncols=2)
    for label, history in runs.items():
        epochs = [r["epoch"] for r in history]
        axes[0][0].plot(epochs, [r["train_loss"] for r in history], marker="o", markersize=3, label=label)
        axes[0][1].plot(epochs, [r["test_acc"] for r in history], marker="o", markersize=3, label=label)
    axes[0][0].set_yscale("log")
    for ax, ylabel in zip(axes[0], ("training loss", "test accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0][1].legend(fontsize=8)
    fig.suptitle(title)
    ctx.save_figure(fig, name)


# ---- optimizers ------------------------------------------------------------------------------

@dataclass
class OptimizersConfig(FashionConfig):
    """Which optimisers to compare. On the landscapes each uses its learning rate from
    ``LANDSCAPE_LRS`` for the landscape's budget of updates; on Fashion-MNIST the rate in ``lrs``
    (the usual defaults: 0.1 for SGD, 0.01 with momentum 0.9, 0.001 for the adaptive ones) for
    ``epochs`` epochs. ``lr`` is unused (every optimiser has its own)."""

    epochs: int = 5
    batch_size: int = 128
    optimizers: tuple[OptimizerName, ...] = setting(
        ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"), distinct=True)
    lrs: str = "sgd=0.1,momentum=0.01,nesterov=0.01,adagrad=0.01,rmsprop=0.001,adam=0.001,adamw=0.001"

    def validate(self) -> None:
        super().validate()
        missing = [n for n in self.optimizers if n not in _parse_lrs(self.lrs)]
        if missing:
            raise UserError(f"lrs gives no learning rate for {', '.join(missing)}; add e.g. {missing[0]}=0.01")


def _landscape_run(landscape: Landscape, name: str, scratch: bool, steps: int | None = None) -> Trajectory:
    optim_cfg = _optim_config(name, LANDSCAPE_LRS[landscape.name][name])
    return landscapes.run(landscape, lambda params: build_optimizer(optim_cfg, params, scratch=scratch), steps)


def _twin_difference(landscape: Landscape, name: str, steps: int) -> float:
    """Largest distance between the scratch optimiser's path and its torch.optim twin's."""
    mine = _landscape_run(landscape, name, scratch=True, steps=steps).points
    theirs = _landscape_run(landscape, name, scratch=False, steps=steps).points
    if mine.shape != theirs.shape:
        return float("inf")
    return (mine - theirs).abs().max().item()


def _paths_figure(ctx: RunContext, paths: dict[str, dict[str, Trajectory]]) -> None:
    fig, axes = new_figure(ncols=len(paths), size=(4.6, 4.0))
    for ax, (land_name, runs) in zip(axes[0], paths.items()):
        landscape = LANDSCAPES[land_name]
        X, Y, Z = landscapes.grid(landscape)
        levels = torch.quantile(Z.flatten(), torch.linspace(0.0, 0.9, 25, dtype=Z.dtype)).unique()
        ax.contour(X, Y, Z, levels=levels.tolist(), colors="0.75", linewidths=0.6)
        for i, (opt_name, trajectory) in enumerate(runs.items()):
            pts = trajectory.points
            steps = "—" if trajectory.steps_to_threshold is None else trajectory.steps_to_threshold
            ax.plot(pts[:, 0], pts[:, 1], color=f"C{i}", linewidth=1, marker=".", markersize=2,
                    label=f"{opt_name} (lr {LANDSCAPE_LRS[land_name][opt_name]:g}): {steps}")
        ax.plot(*landscape.start, "ko", markersize=4)
        ax.plot(*landscape.minimum, "k*", markersize=9)
        ax.set_xlim(*landscape.xlim)
        ax.set_ylim(*landscape.ylim)
        ax.set_title(f"{land_name}: steps to f < {landscape.threshold:g}")
        ax.legend(fontsize=7, loc="lower right")
    ctx.save_figure(fig, "paths")


def optimizers(cfg: OptimizersConfig, ctx: RunContext) -> dict[str, Any]:
    names = cfg.optimizers
    lrs = _parse_lrs(cfg.lrs)
    data, train, test = fashion_mnist.loaders(cfg.batch_size, cfg.seed, ctx.device, cfg.data_dir)

    on_2d = [n for n in names if n != "adamw"]  # AdamW is Adam on a landscape without weights to decay
    paths = {land: {n: _landscape_run(LANDSCAPES[land], n, scratch=True) for n in on_2d}
             for land in LANDSCAPE_LRS}
    twin_diff = max((_twin_difference(LANDSCAPES[land], n, TWIN_STEPS) for land in LANDSCAPE_LRS for n in on_2d),
                    default=0.0)
    _paths_figure(ctx, paths)

    runs = {n: _train_mlp(cfg, ctx, (train, test), n, _optim_config(n, lrs[n])) for n in names}
    _curves_figure(ctx, runs, f"MLP on Fashion-MNIST, {cfg.epochs} epochs", "fashion-curves")

    summary: dict[str, Any] = {
        "steps_to_threshold": [{"landscape": land} | {n: t.steps_to_threshold for n, t in runs_2d.items()}
                               for land, runs_2d in paths.items()],
        "twin_max_diff": twin_diff,
        "fashion": [{"optimizer": n, "lr": lrs[n]} | ({k: h[-1][k] for k in ("train_loss", "test_acc")} if h else {})
                    for n, h in runs.items()],
    }
    for n, h in runs.items():
        summary[f"test_acc_{n}"] = h[-1].get("test_acc") if h else None
    return summary


# ---- lr-schedules ----------------------------------------------------------------------------

@dataclass
class SchedulesConfig(FashionOptimConfig):
    """Each schedule in ``schedules`` trains the MLP with ``optimizer`` (SGD with momentum 0.9 by
    default) from the base ``lr``; ``gamma`` and ``warmup_epochs`` shape them as for any run
    (see :class:`~divelab.config.OptimConfig`). ``schedule`` itself is unused: list them in
    ``schedules``."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.1
    optimizer: OptimizerName = "momentum"
    schedules: tuple[ScheduleName, ...] = setting(
        ("constant", "step", "exponential", "cosine", "warmup_cosine", "warmup_linear"), distinct=True)

    def validate(self) -> None:
        super().validate()
        if self.schedule != "constant":
            raise UserError("lr-schedules compares the schedules named in `schedules`; "
                            "set those (e.g. --set schedules=constant,cosine) instead of `schedule`")

    def resumable(self) -> tuple[str, ...]:
        return tuple(c for c in super().resumable() if c != "epochs")  # every run here has a schedule


def lr_sequence(optim_cfg: OptimConfig, steps_per_epoch: int, scratch: bool) -> list[float]:
    """The learning rate of each update of a whole run under ``optim_cfg``'s schedule."""
    param = torch.zeros(1, requires_grad=True)
    optimizer = build_optimizer(optim_cfg, [param], scratch=scratch)
    scheduler = build_schedule(optim_cfg, optimizer, steps_per_epoch, scratch=scratch)
    lrs = []
    for _ in range(max(1, optim_cfg.epochs * steps_per_epoch)):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradient: nothing moves, but torch's schedulers want a step first
        if scheduler is not None:
            scheduler.step()
    return lrs


def _schedules_figure(ctx: RunContext, sequences: dict[str, tuple[list[float], list[float]]],
                      steps_per_epoch: int) -> None:
    fig, axes = new_figure(size=(6.0, 3.8))
    ax = axes[0][0]
    for i, (name, (mine, theirs)) in enumerate(sequences.items()):
        epochs = [t / steps_per_epoch for t in range(len(mine))]
        ax.plot(epochs, mine, color=f"C{i}", label=name)
        ax.plot(epochs, theirs, color="k", linestyle=":", linewidth=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title("schedules: scratch (colour) and torch.optim.lr_scheduler (dotted)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "schedules")


def lr_schedules(cfg: SchedulesConfig, ctx: RunContext) -> dict[str, Any]:
    names = cfg.schedules
    data, train, test = fashion_mnist.loaders(cfg.batch_size, cfg.seed, ctx.device, cfg.data_dir)
    configs = {n: dataclasses.replace(cfg, schedule=n) for n in names}
    sequences = {n: (lr_sequence(c, len(train), scratch=True), lr_sequence(c, len(train), scratch=False))
                 for n, c in configs.items()}
    twin_diff = max(max(abs(a - b) / b if b else abs(a - b) for a, b in zip(mine, theirs))
                    for mine, theirs in sequences.values())
    _schedules_figure(ctx, sequences, len(train))

    runs = {n: _train_mlp(cfg, ctx, (train, test), n, c) for n, c in configs.items()}
    _curves_figure(ctx, runs, f"MLP, {cfg.optimizer} lr {cfg.lr:g}, {cfg.epochs} epochs", "fashion-curves")
    summary: dict[str, Any] = {"twin_max_rel_diff": twin_diff}
    for n, h in runs.items():
        summary[f"test_acc_{n}"] = h[-1].get("test_acc") if h else None
    return summary


EXPERIMENTS = [
    Experiment("optimizers", "optimization",
               "SGD, momentum, Adagrad, RMSProp, Adam from scratch: 2-D landscapes and Fashion-MNIST",
               OptimizersConfig, optimizers, headline=("twin_max_diff", "test_acc_sgd", "test_acc_adam")),
    Experiment("lr-schedules", "optimization",
               "step, exponential, cosine and warm-up schedules from scratch vs torch; their effect on training",
               SchedulesConfig, lr_schedules, headline=("twin_max_rel_diff", "test_acc_constant", "test_acc_cosine")),
]
