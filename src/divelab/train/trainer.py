"""The one training loop of divelab: epochs of minibatch updates, evaluation, checkpoints.

Per batch the order is: forward → loss → zero_grad → backward → callbacks'
``after_backward`` (clipping, gradient statistics) → optimizer step → scheduler step
(learning-rate schedules count updates, not epochs). After each epoch
the trainer evaluates on the validation and test loaders, lets the callbacks extend the
record (or stop training), appends it to ``metrics.jsonl`` and writes a checkpoint.
Ctrl-C finishes the current batch, checkpoints mid-epoch and stops; a resumed run
continues exactly where it stopped (the shuffling order of an epoch depends only on the
seed and the epoch number, and all RNG states are restored).
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from divelab.data.loader import TensorLoader
from divelab.errors import UserError
from divelab.train import checkpoint
from divelab.train.callbacks import Callback, EpochEnd
from divelab.train.progress import Progress

LossFn = Callable[[Tensor, Tensor], Tensor]


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


class Interrupted(Exception):
    """Training was stopped by Ctrl-C after a checkpoint was written."""

    def __init__(self, epoch: int, batch: int, directory: Path | None):
        self.epoch, self.batch, self.directory = epoch, batch, directory
        where = f"; checkpoint saved in {directory}" if directory else ""
        super().__init__(f"interrupted in epoch {epoch} after batch {batch}{where}")


@torch.inference_mode()
def evaluate(model: nn.Module, loader: TensorLoader, loss_fn: LossFn, classification: bool) -> dict[str, float]:
    """Mean loss (and accuracy) of ``model`` over every batch of ``loader``, in eval mode."""
    was_training = model.training
    model.eval()
    device = loader.tensors[0].device
    loss_sum = torch.zeros((), device=device)  # sums stay on the device: no sync per batch
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for x, y in loader:
        out = model(x)
        loss_sum += loss_fn(out, y) * len(y)
        if classification:
            correct += (out.argmax(-1) == y).sum()
    model.train(was_training)
    n = loader.num_samples
    result = {"loss": loss_sum.item() / n}
    if classification:
        result["acc"] = correct.item() / n
    return result


class Trainer:
    """Trains ``model`` on ``train_loader`` with ``loss_fn`` (a batch mean) and ``optimizer``.

    ``scheduler`` (a ``torch.optim.lr_scheduler`` or ``divelab.scratch.schedules.Scheduler``)
    is stepped after every update and checkpointed with the optimizer.

    ``val_loader`` and ``test_loader`` add ``val_loss``/``val_acc`` and
    ``test_loss``/``test_acc`` to each epoch's record; ``classification`` turns the
    accuracy metrics on. ``callbacks`` are :class:`Callback` objects or plain functions
    ``fn(trainer, record)`` run at each epoch's end. With ``out_dir`` the trainer writes
    ``metrics.jsonl`` and ``checkpoint/`` there (``metrics-NAME.jsonl`` and
    ``checkpoint/NAME/`` for a named sub-run of an experiment that trains several
    models), a checkpoint every ``checkpoint_every`` epochs and at the end; ``meta``
    (experiment name, config) is stored in each checkpoint.
    """

    log_every = 10  # batches between progress updates (each one synchronises with the device)

    def __init__(self, model: nn.Module, loss_fn: LossFn, optimizer: Any, train_loader: TensorLoader,
                 test_loader: TensorLoader | None = None, *, epochs: int, val_loader: TensorLoader | None = None,
                 classification: bool = True, callbacks: Sequence[Callback | Callable[..., None]] = (),
                 out_dir: Path | None = None, name: str | None = None, checkpoint_every: int = 1,
                 meta: dict[str, Any] | None = None, progress: bool = True, scheduler: Any = None):
        self.model, self.loss_fn, self.optimizer, self.scheduler = model, loss_fn, optimizer, scheduler
        self.train_loader, self.val_loader, self.test_loader = train_loader, val_loader, test_loader
        self.epochs, self.classification = epochs, classification
        self.callbacks = [c if isinstance(c, Callback) else EpochEnd(c) for c in callbacks]
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.name, self.checkpoint_every = name, max(1, checkpoint_every)
        self.meta = meta or {}
        self.progress = Progress(epochs, len(train_loader), enabled=progress,
                                 label=f"{name} " if name else "")
        self.history: list[dict[str, Any]] = []
        # position: `epoch` is the epoch in progress (1-based), `batch` the next batch in it
        self.epoch, self.batch, self.seconds = 1, 0, 0.0
        self.stop_training = False  # set by a callback (early stopping) to end after this epoch
        self._device = train_loader.tensors[0].device
        self._reset_sums()
        self._stop_requested = False

    def _reset_sums(self, loss_sum: float = 0.0, correct: int = 0, count: int = 0, train_seconds: float = 0.0) -> None:
        """Running sums of the epoch in progress (loss and hits kept on the device to avoid a
        sync per batch) and the time spent in its batch loop so far."""
        self._loss_sum = torch.tensor(loss_sum, device=self._device)
        self._correct = torch.tensor(correct, device=self._device)
        self._count = count
        self._train_seconds = train_seconds

    # ---- checkpoints ----------------------------------------------------------------------

    @property
    def checkpoint_dir(self) -> Path | None:
        if self.out_dir is None:
            return None
        return self.out_dir / "checkpoint" / self.name if self.name else self.out_dir / "checkpoint"

    @property
    def metrics_path(self) -> Path | None:
        if self.out_dir is None:
            return None
        return self.out_dir / (f"metrics-{self.name}.jsonl" if self.name else "metrics.jsonl")

    def state(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": checkpoint.rng_state(),
            "callbacks": [c.state_dict() for c in self.callbacks],
            "position": {"epoch": self.epoch, "batch": self.batch, "seconds": self.seconds,
                         "stop_training": self.stop_training,
                         "loss_sum": self._loss_sum.item(), "correct": int(self._correct.item()),
                         "count": self._count, "train_seconds": self._train_seconds},
            "history": self.history,
        }

    def save(self) -> None:
        if self.checkpoint_dir is not None:
            checkpoint.save(self.checkpoint_dir, self.state(), tag=f"{self.epoch:04d}-{self.batch:06d}")

    def restore(self) -> None:
        """Continue from the checkpoint in ``out_dir`` (model, optimizer, RNGs, callbacks, position)."""
        if self.checkpoint_dir is None:
            raise UserError("cannot resume a run that has no output directory")
        state = checkpoint.load(self.checkpoint_dir)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if (state["scheduler"] is None) != (self.scheduler is None):
                raise ValueError("it was made with another learning-rate schedule")
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            if len(state["callbacks"]) != len(self.callbacks):
                raise ValueError("it was made with other callbacks")
            for callback, callback_state in zip(self.callbacks, state["callbacks"]):
                callback.load_state_dict(callback_state)
            checkpoint.set_rng_state(state["rng"])
            pos = state["position"]
            self.stop_training = bool(pos["stop_training"])
            self.epoch, self.batch, self.seconds = int(pos["epoch"]), int(pos["batch"]), float(pos["seconds"])
            self._reset_sums(float(pos["loss_sum"]), int(pos["correct"]), int(pos["count"]),
                             float(pos["train_seconds"]))
            self.history = list(state["history"])
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise checkpoint.CheckpointError(
                f"checkpoint in {self.checkpoint_dir} does not match this run ({first}); "
                "use a new --out directory or delete the old run") from None
        if self.epochs < self.epoch - 1:
            raise UserError(f"the run in {self.out_dir} has done {self.epoch - 1} epochs; "
                            f"--epochs {self.epochs} cannot undo them (give at least {self.epoch - 1})")

    # ---- the loop ---------------------------------------------------------------------------

    def fit(self, resume: bool = False) -> list[dict[str, Any]]:
        """Train until ``epochs`` are done; returns the per-epoch records."""
        if resume:
            self.restore()
        self._stop_requested = False
        self._write_metrics()
        previous = self._catch_ctrl_c()
        try:
            while self.epoch <= self.epochs and not self.stop_training:
                self._train_epoch()
                self._end_epoch()
            for callback in self.callbacks:
                callback.on_train_end(self)  # the checkpoint keeps the training state, not this
        finally:
            self.progress.close()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return self.history

    def _train_epoch(self) -> None:
        self.model.train()
        self.progress.start_epoch(self.epoch, self.batch)
        start = time.perf_counter()
        seen = 0
        for x, y in self.train_loader.batches(self.epoch, start=self.batch):
            out = self.model(x)
            loss = self.loss_fn(out, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for callback in self.callbacks:
                callback.after_backward(self)
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()

            n = len(y)
            self._loss_sum += loss.detach() * n
            if self.classification:
                self._correct += (out.detach().argmax(-1) == y).sum()
            self._count += n
            self.batch += 1
            seen += n
            if self.batch % self.log_every == 0 or self.batch == len(self.train_loader):
                # one device sync per `log_every` batches; the running sum covers every batch
                running_loss = self._loss_sum.item() / self._count
                if not math.isfinite(running_loss):
                    raise self._diverged()
                self.progress.update(self.batch, seen / max(time.perf_counter() - start, 1e-9), running_loss)
            if self._stop_requested:
                if not math.isfinite(self._loss_sum.item()):
                    raise self._diverged()  # never checkpoint weights a NaN has reached
                self._add_train_time(start)
                self.save()
                raise Interrupted(self.epoch, self.batch, self.checkpoint_dir)
        self._add_train_time(start)

    def _add_train_time(self, start: float) -> None:
        elapsed = time.perf_counter() - start
        self.seconds += elapsed
        self._train_seconds += elapsed

    def _end_epoch(self) -> None:
        start = time.perf_counter()
        record: dict[str, Any] = {"epoch": self.epoch, "train_loss": self._loss_sum.item() / max(self._count, 1)}
        if not math.isfinite(record["train_loss"]):
            raise self._diverged()
        if self.classification:
            record["train_acc"] = self._correct.item() / max(self._count, 1)
        for prefix, loader in (("val", self.val_loader), ("test", self.test_loader)):
            if loader is not None:
                for key, value in evaluate(self.model, loader, self.loss_fn, self.classification).items():
                    record[f"{prefix}_{key}"] = value
        record["lr"] = self.optimizer.param_groups[0]["lr"]
        record["train_seconds"] = round(self._train_seconds, 4)  # this epoch's batch loop alone
        for callback in self.callbacks:
            callback.on_epoch_end(self, record)
        self.seconds += time.perf_counter() - start
        record["seconds"] = round(self.seconds, 3)  # the run so far, evaluation included
        self.history.append(record)
        self.progress.end_epoch(record)
        self.epoch, self.batch = self.epoch + 1, 0
        self._reset_sums()
        self._append_metrics(record)
        if record["epoch"] % self.checkpoint_every == 0 or record["epoch"] == self.epochs or self.stop_training:
            self.save()

    def _diverged(self) -> TrainingDiverged:
        directory = self.checkpoint_dir
        kept = ""
        if directory is not None and (directory / checkpoint.STATE_FILE).is_file():
            kept = f"; the last good checkpoint is kept in {directory}"
        return TrainingDiverged(
            f"the loss became NaN or infinite in epoch {self.epoch} (by batch {self.batch}){kept}; "
            "run again with a lower --lr and another --out (or delete the old run)")

    # ---- files and signals ----------------------------------------------------------------

    def _write_metrics(self) -> None:
        if self.metrics_path is not None:
            lines = "".join(json.dumps(r) + "\n" for r in self.history)
            checkpoint.atomic_write_bytes(self.metrics_path, lines.encode())

    def _append_metrics(self, record: dict[str, Any]) -> None:
        if self.metrics_path is not None:
            with self.metrics_path.open("a") as f:
                f.write(json.dumps(record) + "\n")

    def _catch_ctrl_c(self) -> Any:
        """First Ctrl-C: stop after the current batch and checkpoint. Second: stop now."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: Any) -> None:
            self._stop_requested = True
            signal.signal(signal.SIGINT, signal.default_int_handler)

        return signal.signal(signal.SIGINT, handler)
