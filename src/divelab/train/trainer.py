"""The one training loop of divelab: epochs of minibatch updates, evaluation, checkpoints.

Per batch the order is: forward → loss → zero_grad → backward → callbacks'
``after_backward`` (clipping, gradient statistics) → optimizer step → scheduler step
(learning-rate schedules count updates, not epochs). After each epoch
the trainer evaluates on the validation and test loaders, lets the callbacks extend the
record (or stop training), appends it to ``metrics.jsonl`` and writes a checkpoint.
Ctrl-C finishes the current batch, checkpoints mid-epoch and stops; a resumed run
continues exactly where it stopped (the shuffling order of an epoch depends only on the
seed and the epoch number, and all RNG states are restored).

Options: ``precision`` (``fp32``, ``bf16``, ``fp16``: autocast of the forward pass, a loss
scaler for fp16; the loss is computed in float32, see :mod:`divelab.train.precision`),
``compile`` (``torch.compile`` of the model; ``trainer.model`` stays the plain module) and
``world`` (data-parallel training over several processes, see
:mod:`divelab.train.distributed`: DDP, each process a shard of every batch, metrics summed
over processes, files written by process 0 alone).

Losses are means, not always over samples: a translation loss averages over the batch's
non-padding target tokens. A loss says how many terms it averages with an optional method
``terms(target)`` (see :func:`loss_terms`); the trainer weights each batch's loss by its
terms, so the epoch's ``train_loss`` and ``val_loss``/``test_loss`` are means over all
terms of the epoch or set (not means of batch means), and the data-parallel gradient is
the gradient of the global batch's mean.

The one training loop (DESIGN.md: one trainer), kept in one module on purpose: it is long
because precision, compilation, data parallelism, checkpoints and interruption all meet in its
epoch loop.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from divelab import files
from divelab.data.loader import TensorLoader
from divelab.errors import UserError
from divelab.train import checkpoint, distributed
from divelab.train.callbacks import Callback, EpochEnd
from divelab.train.distributed import SINGLE, ShardedLoader, World
from divelab.train.precision import MixedPrecision
from divelab.train.progress import Progress

LossFn = Callable[[Tensor, Tensor], Tensor]


def loss_terms(loss_fn: LossFn, y: Tensor) -> Tensor | int:
    """How many terms the mean ``loss_fn(out, y)`` averages: ``loss_fn.terms(y)`` where the loss
    defines it (an integer count, possibly a 0-dim device tensor so that no sync is needed;
    translation: the non-padding target tokens), else the number of samples ``len(y)``."""
    terms = getattr(loss_fn, "terms", None)
    return terms(y) if terms is not None else len(y)


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


class Interrupted(Exception):
    """Training was stopped by Ctrl-C after a checkpoint was written."""

    def __init__(self, epoch: int, batch: int, directory: Path | None):
        self.epoch, self.batch, self.directory = epoch, batch, directory
        where = f"; checkpoint saved in {directory}" if directory else ""
        super().__init__(f"interrupted in epoch {epoch} after batch {batch}{where}")


@torch.inference_mode()
def _evaluation_sums(model: Callable[..., Any], loader: Any, loss_fn: LossFn, classification: bool,
                     amp: MixedPrecision) -> tuple[Tensor, Tensor, int, Tensor]:
    """``(Σ loss·t, Σ hits, Σ n, Σ t)`` over the batches of ``loader``, with ``n`` a batch's
    samples and ``t`` its :func:`loss_terms` (sums kept on the device: no sync per batch)."""
    device = loader.tensors[0].device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    terms = torch.zeros((), dtype=torch.int64, device=device)
    count = 0
    for x, y in loader:
        if len(y) == 0:  # a process's empty share of a tiny batch
            continue
        with amp.autocast():
            out = model(x)
        out = amp.output(out)
        t = loss_terms(loss_fn, y)
        loss_sum += loss_fn(out, y) * t
        if classification:
            correct += (out.argmax(-1) == y).sum()
        count += len(y)
        terms += t
    return loss_sum, correct, count, terms


def evaluate(model: nn.Module, loader: TensorLoader, loss_fn: LossFn, classification: bool, *,
             precision: str = "fp32") -> dict[str, float]:
    """Mean loss over all the loss's terms (samples, or e.g. tokens: :func:`loss_terms`) and
    accuracy over all samples of ``loader``, in eval mode (the forward pass under
    ``precision``'s autocast, the loss in float32)."""
    was_training = model.training
    model.eval()
    try:
        amp = MixedPrecision(precision, loader.tensors[0].device)
        loss_sum, correct, count, terms = _evaluation_sums(model, loader, loss_fn, classification, amp)
    finally:
        model.train(was_training)
    result = {"loss": loss_sum.item() / max(int(terms.item()), 1)}
    if classification:
        result["acc"] = correct.item() / max(count, 1)
    return result


class Trainer:
    """Trains ``model`` on ``train_loader`` with ``loss_fn`` and ``optimizer``.

    ``loss_fn(out, y)`` is a mean over the batch's :func:`loss_terms` terms: over its samples,
    or, where the loss has a method ``terms(y)``, over that many terms (``TranslationLoss``:
    the non-padding target tokens). Losses are weighted by their terms everywhere, accuracy
    by samples. ``last_loss`` is the detached loss of the update in progress (set before the
    ``after_backward`` hooks run) or of the last one; with several processes, this
    process's share's.

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

    ``precision``, ``compile`` and ``world`` are described in the module docstring. With
    several processes, callbacks run in every process and must act alike in all of them
    (the records they see are the same everywhere; ``stop_training`` set in any process
    stops all).
    """

    log_every = 10  # batches between progress updates (each one synchronises with the device)

    def __init__(self, model: nn.Module, loss_fn: LossFn, optimizer: Any, train_loader: TensorLoader,
                 test_loader: TensorLoader | None = None, *, epochs: int, val_loader: TensorLoader | None = None,
                 classification: bool = True, callbacks: Sequence[Callback | Callable[..., None]] = (),
                 out_dir: Path | None = None, name: str | None = None, checkpoint_every: int = 1,
                 meta: dict[str, Any] | None = None, progress: bool = True, scheduler: Any = None,
                 precision: str = "fp32", compile: bool = False, world: World = SINGLE):
        self.model, self.loss_fn, self.optimizer, self.scheduler = model, loss_fn, optimizer, scheduler
        self.train_loader, self.val_loader, self.test_loader = train_loader, val_loader, test_loader
        self.epochs, self.classification = epochs, classification
        self.callbacks = [c if isinstance(c, Callback) else EpochEnd(c) for c in callbacks]
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.name, self.checkpoint_every = name, max(1, checkpoint_every)
        self.meta = meta or {}
        self.world, self.compile = world, compile
        self.progress = Progress(epochs, len(train_loader), enabled=progress and world.is_main,
                                 label=f"{name} " if name else "")
        self.history: list[dict[str, Any]] = []
        # position: `epoch` is the epoch in progress (1-based), `batch` the next batch in it
        self.epoch, self.batch, self.seconds = 1, 0, 0.0
        self.stop_training = False  # set by a callback (early stopping) to end after this epoch
        self._device = train_loader.tensors[0].device
        self.amp = MixedPrecision(precision, self._device)
        self._reset_sums()
        self.last_loss: Tensor | None = None
        self._stop_requested = False
        self._nets: tuple[nn.Module, Callable[..., Any], Callable[..., Any]] | None = None

    def _reset_sums(self, loss_sum: float = 0.0, correct: int = 0, count: int = 0, terms: int = 0,
                    train_seconds: float = 0.0) -> None:
        """Running sums of the epoch in progress: ``Σ loss·t``, hits, samples ``n`` and loss
        terms ``t`` (all but ``n`` kept on the device to avoid a sync per batch), and the
        time spent in its batch loop so far. With several processes each keeps the sums of
        its own shards."""
        self._loss_sum = torch.tensor(loss_sum, device=self._device)
        self._correct = torch.tensor(correct, device=self._device)
        self._count = count
        self._terms = torch.tensor(terms, dtype=torch.int64, device=self._device)
        self._train_seconds = train_seconds

    def _totals(self) -> tuple[float, int, int, int]:
        """``(Σ loss·t, Σ hits, Σ n, Σ t)`` of the epoch so far, over all processes."""
        if not self.world.enabled:
            return self._loss_sum.item(), int(self._correct.item()), self._count, int(self._terms.item())
        sums = torch.stack([self._loss_sum.double(), self._correct.double(),
                            torch.tensor(float(self._count), dtype=torch.float64, device=self._device),
                            self._terms.double()])
        loss_sum, correct, count, terms = distributed.all_reduce_sum(sums, self.world).tolist()
        return loss_sum, round(correct), round(count), round(terms)

    def _networks(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """``(train_net, eval_net)``: the model wrapped for training (DDP, compiled) and for
        evaluation (compiled); built once per model, parameters shared with ``self.model``."""
        if self._nets is None or self._nets[0] is not self.model:
            train_net: Callable[..., Any] = self.model
            if self.world.enabled:
                ids = [self._device] if self._device.type == "cuda" else None
                train_net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
            eval_net: Callable[..., Any] = self.model
            if self.compile:
                eval_net = torch.compile(self.model)
                train_net = torch.compile(train_net) if self.world.enabled else eval_net
            self._nets = (self.model, train_net, eval_net)
        return self._nets[1], self._nets[2]

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
            "scaler": self.amp.state_dict(),
            "rng": checkpoint.rng_state(),
            "callbacks": [c.state_dict() for c in self.callbacks],
            "position": {"epoch": self.epoch, "batch": self.batch, "seconds": self.seconds,
                         "stop_training": self.stop_training,
                         "loss_sum": self._loss_sum.item(), "correct": int(self._correct.item()),
                         "count": self._count, "terms": int(self._terms.item()),
                         "train_seconds": self._train_seconds},
            "history": self.history,
        }

    def save(self) -> None:
        """Write a checkpoint (process 0 only); the model's own state dict, so it loads into a
        plain model and with any number of processes."""
        if self.checkpoint_dir is not None and self.world.is_main:
            with self._writing("checkpoint", self.checkpoint_dir):
                checkpoint.save(self.checkpoint_dir, self.state(), tag=f"{self.epoch:04d}-{self.batch:06d}")

    def restore(self) -> None:
        """Continue from the checkpoint in ``out_dir`` (model, optimizer, RNGs, callbacks, position)."""
        if self.checkpoint_dir is None:
            raise UserError("cannot resume a run that has no output directory")
        state = checkpoint.load(self.checkpoint_dir)
        checkpoint.check_tensors(state.get("model"), self.model.state_dict(), "model", self.checkpoint_dir)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if (state["scheduler"] is None) != (self.scheduler is None):
                raise ValueError("it was made with another learning-rate schedule")
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            self.amp.load_state_dict(state.get("scaler"))
            if len(state["callbacks"]) != len(self.callbacks):
                raise ValueError("it was made with other callbacks")
            for callback, callback_state in zip(self.callbacks, state["callbacks"]):
                callback.load_state_dict(callback_state)
            checkpoint.set_rng_state(state["rng"])
            pos = state["position"]
            self.stop_training = bool(pos["stop_training"])
            self.epoch, self.batch, self.seconds = int(pos["epoch"]), int(pos["batch"]), float(pos["seconds"])
            # the saved sums cover all processes: process 0 carries them on, the others start at 0;
            # checkpoints from before loss terms weighted losses by samples (terms = count)
            sums = (float(pos["loss_sum"]), int(pos["correct"]), int(pos["count"]), int(pos.get("terms", pos["count"])))
            self._reset_sums(*(sums if self.world.is_main else (0.0, 0, 0, 0)), float(pos["train_seconds"]))
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
        distributed.fork_rng(self.world)
        try:
            while self.epoch <= self.epochs and not self.stop_training:
                self._train_epoch()
                self._end_epoch()
            for callback in self.callbacks:
                callback.on_train_end(self)  # the checkpoint keeps the training state, not this
            distributed.barrier(self.world)  # process 0's last checkpoint is written
            distributed.sync_rng(self.world, self._device)
        finally:
            self.progress.close()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return self.history

    def _sizes(self, y: Tensor) -> tuple[int, Tensor | int]:
        """``(samples, loss terms)`` of a batch with targets ``y``."""
        return len(y), loss_terms(self.loss_fn, y)

    def _batches(self) -> Iterator[tuple[tuple[int, Tensor | int], tuple[Tensor, ...]]]:
        """``((samples, loss terms) of the global batch, this process's share)`` of each
        remaining batch of the epoch."""
        if self.world.enabled:
            return ShardedLoader(self.train_loader, self.world).sized_batches(self.epoch, self.batch, self._sizes)
        # the targets give the sizes: inputs may be a tuple (translation: source, lengths, decoder input)
        return ((self._sizes(batch[-1]), batch) for batch in self.train_loader.batches(self.epoch, start=self.batch))

    def _step(self, net: Callable[..., Any], x: Tensor, y: Tensor, terms_global: Tensor | int) -> None:
        """One update on this process's share ``(x, y)`` of a batch whose loss averages ``terms_global`` terms."""
        with self.amp.autocast():
            out = net(x)
        out = self.amp.output(out)
        loss = self.loss_fn(out, y)
        terms = loss_terms(self.loss_fn, y)
        self.last_loss = loss.detach()
        self.optimizer.zero_grad(set_to_none=True)
        if self.world.enabled:
            # DDP averages gradients over W processes: weight W·t_r/t (t: loss terms, t_r this
            # process's) makes that the gradient of the global batch's mean over its t terms
            self.amp.backward(loss * (self.world.world_size * terms / terms_global))
        else:
            self.amp.backward(loss)
        self.amp.unscale(self.optimizer)
        for callback in self.callbacks:
            callback.after_backward(self)
        self.amp.step(self.optimizer)
        if self.scheduler is not None:
            self.scheduler.step()
        self._loss_sum += self.last_loss * terms
        if self.classification:
            self._correct += (out.detach().argmax(-1) == y).sum()
        self._count += len(y)
        self._terms += terms

    def _train_epoch(self) -> None:
        self.model.train()
        train_net, _ = self._networks()
        self.progress.start_epoch(self.epoch, self.batch)
        start = time.perf_counter()
        seen = 0
        for (n_global, terms_global), (x, y) in self._batches():
            if n_global >= self.world.world_size:  # else a final batch too small to share: skipped
                self._step(train_net, x, y, terms_global)
            self.batch += 1
            seen += n_global
            stop = self._stop_requested
            if self.batch % self.log_every == 0 or self.batch == len(self.train_loader):
                # one device sync per `log_every` batches; the running sum covers every batch
                loss_sum, _, _, terms = self._totals()
                if not math.isfinite(loss_sum / max(terms, 1)):
                    raise self._diverged()
                self.progress.update(self.batch, seen / max(time.perf_counter() - start, 1e-9),
                                     loss_sum / max(terms, 1))
                stop = distributed.any_process(stop, self.world, self._device)
            elif self.world.enabled:
                stop = False  # processes agree to stop only where they talk: every `log_every` batches
            if stop:
                self._interrupt(start)
        self._add_train_time(start)

    def _interrupt(self, start: float) -> None:
        """Checkpoint mid-epoch and raise :class:`Interrupted` (after Ctrl-C)."""
        totals = self._totals()
        if not math.isfinite(totals[0]):
            raise self._diverged()  # never checkpoint weights a NaN has reached
        self._add_train_time(start)
        if self.world.enabled:  # process 0 checkpoints the sums of all
            self._reset_sums(*(totals if self.world.is_main else (0.0, 0, 0, 0)), self._train_seconds)
        self.save()
        distributed.barrier(self.world)
        raise Interrupted(self.epoch, self.batch, self.checkpoint_dir)

    def _add_train_time(self, start: float) -> None:
        elapsed = time.perf_counter() - start
        self.seconds += elapsed
        self._train_seconds += elapsed

    def _evaluate(self, loader: Any, eval_net: Callable[..., Any]) -> dict[str, float]:
        """Mean loss over all loss terms (and accuracy over all samples) of ``loader``, each
        process evaluating its shards."""
        was_training = self.model.training
        self.model.eval()
        try:
            batches = ShardedLoader(loader, self.world) if self.world.enabled else loader
            loss_sum, correct, count, terms = _evaluation_sums(eval_net, batches, self.loss_fn,
                                                               self.classification, self.amp)
        finally:
            self.model.train(was_training)
        sums = torch.stack([loss_sum.double(), correct.double(),
                            torch.tensor(float(count), dtype=torch.float64, device=loss_sum.device), terms.double()])
        total_loss, total_correct, n, t = distributed.all_reduce_sum(sums, self.world).tolist()
        result = {"loss": total_loss / max(t, 1)}
        if self.classification:
            result["acc"] = total_correct / max(n, 1)
        return result

    def _end_epoch(self) -> None:
        start = time.perf_counter()
        loss_sum, correct, count, terms = self._totals()
        record: dict[str, Any] = {"epoch": self.epoch, "train_loss": loss_sum / max(terms, 1)}
        if not math.isfinite(record["train_loss"]):
            raise self._diverged()
        if self.classification:
            record["train_acc"] = correct / max(count, 1)
        _, eval_net = self._networks()
        for prefix, loader in (("val", self.val_loader), ("test", self.test_loader)):
            if loader is not None:
                for key, value in self._evaluate(loader, eval_net).items():
                    record[f"{prefix}_{key}"] = value
        record["lr"] = self.optimizer.param_groups[0]["lr"]
        record["train_seconds"] = round(self._train_seconds, 4)  # this epoch's batch loop alone
        for callback in self.callbacks:
            callback.on_epoch_end(self, record)
        self.stop_training = distributed.any_process(self.stop_training, self.world, self._device)
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
        """The error to raise; ``metrics.jsonl`` first gains a record ``{"epoch", "batch",
        "diverged": true}`` so that ``divelab diagnose`` can tell a diverged run from a stopped one."""
        self._append_metrics({"epoch": self.epoch, "batch": self.batch, "diverged": True})
        directory = self.checkpoint_dir
        kept = ""
        if directory is not None and (directory / checkpoint.STATE_FILE).is_file():
            kept = f"; the last good checkpoint is kept in {directory}"
        return TrainingDiverged(
            f"the loss became NaN or infinite in epoch {self.epoch} (by batch {self.batch}){kept}; "
            "run again with a lower --lr and another --out (or delete the old run)")

    # ---- files and signals ----------------------------------------------------------------

    @contextlib.contextmanager
    def _writing(self, what: str, where: Path) -> Iterator[None]:
        """Turn a failed write (disk full, permissions) into a clear error; the last complete
        checkpoint stays valid, as writes are atomic."""
        try:
            yield
        except OSError as exc:
            raise UserError(f"cannot write the {what} in {where} ({exc.strerror or exc}); the last complete "
                            "checkpoint is kept: free some space or fix the permissions, then continue "
                            "with --resume") from None

    def _write_metrics(self) -> None:
        if self.metrics_path is not None and self.world.is_main:
            lines = "".join(json.dumps(r) + "\n" for r in self.history)
            with self._writing("metrics", self.metrics_path):
                files.atomic_write_bytes(self.metrics_path, lines.encode())

    def _append_metrics(self, record: dict[str, Any]) -> None:
        if self.metrics_path is not None and self.world.is_main:
            with self._writing("metrics", self.metrics_path), self.metrics_path.open("a") as f:
                f.write(json.dumps(record) + "\n")

    def _catch_ctrl_c(self) -> Any:
        """First Ctrl-C: stop after the current batch and checkpoint. Second: stop now."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: Any) -> None:
            self._stop_requested = True
            signal.signal(signal.SIGINT, signal.default_int_handler)

        return signal.signal(signal.SIGINT, handler)
