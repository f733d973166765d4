"""Optimisers and learning-rate schedules by name, from PyTorch or from ``divelab.scratch``.

``build_optimizer(cfg, params)`` and ``build_schedule(cfg, optimizer, steps_per_epoch)``
turn the names of an :class:`~divelab.config.OptimConfig` (``--set optimizer=adam``,
``--set schedule=warmup_cosine``) into objects the :class:`~divelab.train.trainer.Trainer`
drives: ``scratch=True`` picks the hand-written twins (same names, same hyperparameters,
same trajectories — see ``tests/scratch/test_optim.py`` and ``test_schedules.py``).

A schedule is stepped after every update and planned over the whole run
(``epochs × steps_per_epoch`` updates); ``constant`` means no scheduler at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import lr_scheduler

from divelab.config import OptimConfig
from divelab.scratch import optim as scratch_optim
from divelab.scratch import schedules as scratch_schedules

TORCH_OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
}


def optimizer_kwargs(cfg: OptimConfig) -> tuple[str, dict[str, Any]]:
    """The base optimiser (``sgd`` for ``momentum``/``nesterov``) and its keyword arguments."""
    kwargs: dict[str, Any] = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    if cfg.optimizer in ("momentum", "nesterov"):
        return "sgd", kwargs | {"momentum": cfg.momentum, "nesterov": cfg.optimizer == "nesterov"}
    return cfg.optimizer, kwargs


def build_optimizer(cfg: OptimConfig, params: Iterable[Tensor], *, scratch: bool = False) -> Any:
    """The optimiser ``cfg.optimizer`` over ``params`` with ``cfg``'s lr, momentum and weight decay."""
    name, kwargs = optimizer_kwargs(cfg)
    classes: dict[str, Any] = scratch_optim.OPTIMIZERS if scratch else TORCH_OPTIMIZERS
    return classes[name](params, **kwargs)


def plan(cfg: OptimConfig, steps_per_epoch: int) -> tuple[int, int]:
    """``(total_steps, warmup_steps)`` of the run: its length and its warm-up, in updates."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = min(total, round(cfg.warmup_epochs * steps_per_epoch)) if cfg.schedule.startswith("warmup") else 0
    return total, warmup


def build_schedule(cfg: OptimConfig, optimizer: Any, steps_per_epoch: int, *, scratch: bool = False) -> Any:
    """The scheduler of ``cfg.schedule`` for ``optimizer`` (``None`` for ``constant``).

    ``scratch=False`` builds ``torch.optim.lr_scheduler`` objects, ``True`` a
    :class:`divelab.scratch.schedules.Scheduler` with the closed-form schedule.
    """
    if cfg.schedule == "constant":
        return None
    total, warmup = plan(cfg, steps_per_epoch)
    if scratch:
        return scratch_schedules.Scheduler(optimizer, _scratch_lr_at(cfg, optimizer.param_groups[0]["lr"],
                                                                     total, warmup))
    return _torch_schedule(cfg, optimizer, total, warmup)


def _step_size(total: int) -> int:
    return max(1, math.ceil(total / 3))


def _scratch_lr_at(cfg: OptimConfig, base_lr: float, total: int, warmup: int) -> Any:
    s = scratch_schedules
    match cfg.schedule:
        case "step":
            return s.step_decay(base_lr, _step_size(total), cfg.gamma)
        case "exponential":
            return s.exponential_decay(base_lr, cfg.gamma ** (1 / total))
        case "cosine":
            return s.cosine_annealing(base_lr, total)
        case "warmup_cosine":
            return s.warmup_cosine(base_lr, warmup, total)
        case "warmup_linear":
            return s.warmup_linear(base_lr, warmup, total)
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


def _torch_schedule(cfg: OptimConfig, optimizer: torch.optim.Optimizer, total: int, warmup: int) -> Any:
    match cfg.schedule:
        case "step":
            return lr_scheduler.StepLR(optimizer, _step_size(total), cfg.gamma)
        case "exponential":
            return lr_scheduler.ExponentialLR(optimizer, cfg.gamma ** (1 / total))
        case "cosine":
            return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
        case "warmup_cosine":
            decay = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total - warmup))
        case "warmup_linear":
            decay = lr_scheduler.LinearLR(optimizer, 1.0, 0.0, total_iters=max(1, total - warmup))
        case _:
            raise ValueError(f"unknown schedule {cfg.schedule!r}")
    if warmup == 0:
        return decay
    # the scratch warm-up's default start: lr·(t + 1)/(W + 1), equal steps and none at lr 0
    ramp = lr_scheduler.LinearLR(optimizer, 1 / (warmup + 1), 1.0, total_iters=warmup)
    return lr_scheduler.SequentialLR(optimizer, [ramp, decay], milestones=[warmup])
