"""Hooks into the trainer's loop: early stopping, gradient clipping, per-epoch extras.

A callback overrides the hooks it needs. Its ``state_dict`` goes into every checkpoint,
so a resumed run continues with the callback exactly where it was.

Order within one batch: forward → loss → zero_grad → backward → ``after_backward`` →
optimizer step. After each epoch's evaluation: ``on_epoch_end(trainer, record)``, which
may add entries to the record or set ``trainer.stop_training``. After the last epoch:
``on_train_end``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import torch

if TYPE_CHECKING:
    from divelab.train.trainer import Trainer


class Callback:
    """Base class: every hook does nothing."""

    def after_backward(self, trainer: Trainer) -> None:
        """Gradients are ready and the optimizer has not stepped yet."""

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """The epoch's record is complete but not yet written."""

    def on_train_end(self, trainer: Trainer) -> None:
        """Training is over (all epochs done, or stopped early)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class EpochEnd(Callback):
    """Wrap a function ``fn(trainer, record)`` as an ``on_epoch_end`` callback."""

    def __init__(self, fn: Callable[[Trainer, dict[str, Any]], None]):
        self.fn = fn

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        self.fn(trainer, record)


class EarlyStopping(Callback):
    """Stop when ``monitor`` (e.g. ``val_loss``) has not improved for ``patience`` epochs.

    Improvement means lower by more than ``min_delta`` (``mode="min"``) or higher
    (``mode="max"``). With ``restore_best`` the model gets the weights of the best epoch
    back when training ends. The record of each epoch gains ``best_epoch``.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, mode: Literal["min", "max"] = "min",
                 min_delta: float = 0.0, restore_best: bool = True):
        if patience < 1:
            raise ValueError(f"patience must be ≥ 1, got {patience}")
        self.monitor, self.patience, self.mode = monitor, patience, mode
        self.min_delta, self.restore_best = min_delta, restore_best
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.best_weights: dict[str, torch.Tensor] = {}

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self.monitor not in record:
            raise KeyError(f"early stopping monitors {self.monitor!r}, but the records hold {sorted(record)}")
        value = record[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch = value, record["epoch"]
            if self.restore_best:
                self.best_weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        elif record["epoch"] - self.best_epoch >= self.patience:
            self.stopped_epoch = record["epoch"]
            trainer.stop_training = True
        record["best_epoch"] = self.best_epoch

    def on_train_end(self, trainer: Trainer) -> None:
        if self.restore_best and self.best_weights:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch,
                "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = float(state["best"]), int(state["best_epoch"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best_weights = dict(state["best_weights"])


ClipFn = Callable[..., torch.Tensor]


class GradClip(Callback):
    """Rescale gradients so their global L2 norm is at most ``max_norm`` before each step.

    ``clip_fn(parameters, max_norm)`` returns the norm before clipping; it defaults to
    ``torch.nn.utils.clip_grad_norm_`` (the scratch twin can be passed instead). Each
    epoch's record gains ``grad_norm_mean`` and ``grad_norm_max`` (before clipping) and
    ``clipped_fraction`` (share of steps that were clipped).
    """

    def __init__(self, max_norm: float, clip_fn: ClipFn | None = None):
        if not max_norm > 0:
            raise ValueError(f"max_norm must be > 0, got {max_norm}")
        self.max_norm = max_norm
        self.clip_fn = clip_fn or torch.nn.utils.clip_grad_norm_
        self._norms: list[torch.Tensor] = []

    def after_backward(self, trainer: Trainer) -> None:
        params = [p for p in trainer.model.parameters() if p.grad is not None]
        self._norms.append(self.clip_fn(params, self.max_norm).detach())

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if self._norms:
            norms = torch.stack(self._norms).float()
            record.update(grad_norm_mean=norms.mean().item(), grad_norm_max=norms.max().item(),
                          clipped_fraction=(norms > self.max_norm).float().mean().item())
        self._norms = []
