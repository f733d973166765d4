"""What an experiment is (:class:`Experiment`) and what it is handed when it runs (:class:`RunContext`).

An experiment is a function ``fn(config, ctx) -> summary`` with a config dataclass. It
builds its data, model and trainer, trains through ``ctx.fit``, draws its figures through
``ctx.save_figure`` and returns its headline numbers; the runner does the rest (output
directory, config.json, summary.json, resume checks).

Launched by ``torchrun``, every process runs the whole experiment (same seed, same data);
trainers made by ``ctx.trainer`` train data-parallel, and only process 0 (``ctx.world``)
writes to the output directory. Work done outside the trainer is repeated in every process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from divelab import machine, rundir
from divelab.analysis.flops import utilisation
from divelab.config import RunConfig, to_dict
from divelab.errors import UserError
from divelab.files import atomic_write_json
from divelab.report import figures
from divelab.train import checkpoint
from divelab.train.distributed import SINGLE, World
from divelab.train.tensorboard import TensorBoardLogger
from divelab.train.trainer import Trainer

def model_facts(model: torch.nn.Module) -> dict[str, int]:
    """What ``summary.json`` records of each trained model (``models``), for comparing runs:
    ``parameters`` and ``weight_layers``, its parameter tensors of rank ≥ 2 (weight matrices
    and kernels; a plain network's depth)."""
    params = list(model.parameters())
    return {"parameters": sum(p.numel() for p in params), "weight_layers": sum(p.dim() >= 2 for p in params)}


@dataclass(frozen=True)
class Experiment:
    """A named, runnable experiment: ``divelab run NAME``."""

    name: str
    topic: str
    description: str
    config: type[RunConfig]
    fn: Callable[[Any, "RunContext"], dict[str, Any]]
    headline: tuple[str, ...] = ("test_acc",)  # summary keys that carry the result
    # precision=auto may train it in bf16: its bf16 results were measured within seed noise of fp32 (README)
    bf16: bool = False


@dataclass
class RunContext:
    """Where and how an experiment runs: output directory, device, resume flag, progress,
    and which of the run's processes this is (``world``)."""

    experiment: str
    config: RunConfig
    out_dir: Path
    device: torch.device
    resume: bool = False
    progress: bool = True
    config_record: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"  # what the trainer uses: the config's setting with auto resolved
    figures: list[Path] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    models: dict[str, dict[str, int]] = field(default_factory=dict)  # trainer name → model_facts
    seconds: float | None = None
    world: World = SINGLE
    kept: list[str] = field(default_factory=list)  # files in out_dir before the run: never deleted
    _opened: bool = False

    def open(self) -> None:
        """Prepare the output directory on first use: nothing is touched before this.

        Experiments load and check their data first, so a mistake found there leaves an
        earlier run in the same directory intact. Only process 0 of a multi-process run writes.
        """
        if self._opened:
            return
        if not self.world.is_main:
            self._opened = True
            return
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the output directory {self.out_dir} ({exc.strerror}); "
                            "choose another --out") from None
        if self.resume:
            (self.out_dir / "summary.json").unlink(missing_ok=True)  # unfinished again until it ends
            manifest = rundir.read_manifest(self.out_dir)
            self.kept = [str(f) for f in manifest["kept"]] if manifest else []
        else:
            self.kept = rundir.clear_for_fresh_run(self.out_dir)  # the previous run's files, no others
        atomic_write_json(self.out_dir / "config.json", self.config_record)
        rundir.write_manifest(self.out_dir, self.kept, finished=False)
        self._opened = True

    @property
    def meta(self) -> dict[str, Any]:
        """Stored in each checkpoint, checked on resume."""
        return {"experiment": self.experiment, "config": to_dict(self.config)}

    def trainer(self, model: torch.nn.Module, loss_fn: Any, optimizer: Any, train_loader: Any,
                test_loader: Any = None, **kwargs: Any) -> Trainer:
        """A :class:`Trainer` writing to this run's directory, for ``config.epochs`` epochs
        unless ``epochs=`` is given. Experiments that train several models give each a
        ``name=`` so their metrics and checkpoints are kept apart. The run's ``precision`` (the
        config's, ``auto`` resolved), the config's ``compile`` and the run's processes (``world``)
        apply unless given."""
        if self.resume and not self._opened:  # the first model: check it fits its checkpoint before any change
            directory = self.out_dir / "checkpoint" / (kwargs.get("name") or "")
            if (directory / checkpoint.STATE_FILE).is_file():
                state = checkpoint.load(directory)
                checkpoint.check_tensors(state.get("model"), model.state_dict(), "model", directory)
        self.open()
        kwargs.setdefault("epochs", self.config.epochs)
        kwargs.setdefault("progress", self.progress)
        kwargs.setdefault("precision", self.precision)
        kwargs.setdefault("compile", getattr(self.config, "compile", False))
        kwargs.setdefault("world", self.world)
        if getattr(self.config, "tensorboard", False):
            log_dir = self.out_dir / "tensorboard" / (kwargs.get("name") or "")
            # on every process (checkpoints list the same callbacks everywhere); only process 0 writes
            logger = TensorBoardLogger(log_dir, enabled=self.world.is_main)
            kwargs["callbacks"] = [*kwargs.get("callbacks", ()), logger]
        return Trainer(model, loss_fn, optimizer, train_loader, test_loader, out_dir=self.out_dir,
                       meta=self.meta, **kwargs)

    def fit(self, trainer: Trainer, title: str = "", curves: bool = True) -> list[dict[str, Any]]:
        """Train (resuming where a checkpoint exists, if asked), draw the training curves
        (``curves.png``, or ``curves-NAME.png`` for a named sub-run), return the history.

        ``seconds`` of the run is the sum over every model trained.
        """
        resume = self.resume and trainer.checkpoint_dir is not None and \
            (trainer.checkpoint_dir / checkpoint.STATE_FILE).is_file()
        history = trainer.fit(resume=resume)
        self.history = history
        self.models[trainer.name or self.experiment] = model_facts(trainer.model)
        self.seconds = (self.seconds or 0.0) + trainer.seconds
        if history and curves:
            name = f"curves-{trainer.name}" if trainer.name else "curves"
            self.save_figure(figures.training_curves(history, title or trainer.name or self.experiment), name)
        return history

    def utilisation(self, macs_per_example: float, examples: int, seconds: float) -> dict[str, float]:
        """Model FLOP utilisation of training (:func:`divelab.analysis.flops.utilisation`):
        ``examples`` trained by all the run's processes in ``seconds``, this process's share of them
        against this machine's matrix-product peak in the run's precision; ``{}`` if nothing was timed."""
        if seconds <= 0:
            return {}
        peak = machine.matmul_peak(str(self.device), self.precision)
        return utilisation(macs_per_example, examples // self.world.world_size, seconds, peak)

    def save_figure(self, fig: Figure, name: str) -> Path:
        """Write ``fig`` as ``NAME.png`` in the run directory (process 0 only)."""
        self.open()
        path = self.out_dir / f"{name}.png"
        if self.world.is_main:
            figures.save(fig, path)
        self.figures.append(path)
        return path
