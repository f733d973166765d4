"""Optional TensorBoard logging of a training run (``--set tensorboard=true``).

Needs the ``tensorboard`` package (``pip install 'divelab[tensorboard]'``); view the
scalars with ``tensorboard --logdir runs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from divelab.errors import UserError
from divelab.train.callbacks import Callback

if TYPE_CHECKING:
    from divelab.train.trainer import Trainer


def global_step(trainer: Trainer) -> int:
    """The 1-based number of the update in progress, counted over the whole run:
    ``(epoch − 1) · batches_per_epoch + batch + 1``. A function of the trainer's position
    alone, so a resumed run continues the same axis."""
    return (trainer.epoch - 1) * len(trainer.train_loader) + trainer.batch + 1


class TensorBoardLogger(Callback):
    """Write a run's scalars as TensorBoard event files in ``log_dir``.

    Per update: ``step/loss`` (that batch's loss, the trainer's ``last_loss``) and ``step/lr``; per epoch, at the
    step of the epoch's last update: every number of the epoch's record as
    ``epoch/KEY`` (``epoch/test_acc``, ``epoch/val_loss`` …). Everything is plotted
    against the global step (:func:`global_step`).

    Per-update losses stay on the device and are written every ``flush_every`` updates
    and at each epoch's end: one device sync per flush, not one per update. The writer is
    opened on the first update with ``purge_step`` at that step, so events that a killed
    run wrote beyond its checkpoint (or an earlier run wrote into the same directory) are
    hidden when the run resumes (or starts afresh). Nothing is created before that.

    ``enabled=False`` makes every hook a no-op: in a multi-process run every rank keeps
    the same list of callbacks (so checkpoints load anywhere) but only rank 0 writes.
    """

    def __init__(self, log_dir: str | Path, flush_every: int = 50, enabled: bool = True):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError("tensorboard=true needs the tensorboard package: "
                            "pip install 'divelab[tensorboard]' (or pip install tensorboard)") from None
        if flush_every < 1:
            raise ValueError(f"flush_every must be ≥ 1, got {flush_every}")
        self._writer_class = SummaryWriter
        self.log_dir, self.flush_every, self.enabled = Path(log_dir), flush_every, enabled
        self._writer: Any = None
        self._pending: list[tuple[int, float, Tensor]] = []  # (step, lr, loss) not yet written

    def _write(self, step: int) -> Any:
        if self._writer is None:
            self._writer = self._writer_class(log_dir=str(self.log_dir), purge_step=step)
        return self._writer

    def _flush_steps(self) -> None:
        if not self._pending:
            return
        losses = torch.stack([loss for _, _, loss in self._pending]).tolist()  # the one sync
        writer = self._write(self._pending[0][0])
        for (step, lr, _), loss in zip(self._pending, losses):
            writer.add_scalar("step/loss", loss, step)
            writer.add_scalar("step/lr", lr, step)
        self._pending = []

    def after_backward(self, trainer: Trainer) -> None:
        if not self.enabled or trainer.last_loss is None:
            return
        lr = float(trainer.optimizer.param_groups[0]["lr"])  # the rate this update uses
        self._pending.append((global_step(trainer), lr, trainer.last_loss))
        if len(self._pending) >= self.flush_every:
            self._flush_steps()

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._flush_steps()
        step = trainer.epoch * len(trainer.train_loader)
        writer = self._write(step)
        for key, value in record.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                writer.add_scalar(f"epoch/{key}", value, step)
        writer.flush()

    def on_train_end(self, trainer: Trainer) -> None:
        self._flush_steps()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
