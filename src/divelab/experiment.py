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

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from divelab.config import RunConfig, to_dict
from divelab.errors import UserError
from divelab.report import figures
from divelab.train import checkpoint
from divelab.train.checkpoint import atomic_write_json
from divelab.train.distributed import SINGLE, World
from divelab.train.tensorboard import TensorBoardLogger
from divelab.train.trainer import Trainer

# files a run writes; a fresh run removes the previous run's copies of these, nothing else
RUN_FILES = ("config.json", "metrics.jsonl", "summary.json")


def _is_run_dir(directory: Path) -> bool:
    """Whether ``directory`` holds an earlier divelab run (so its files may be replaced)."""
    try:
        record = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and {"experiment", "settings"} <= record.keys()


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
    figures: list[Path] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    models: dict[str, dict[str, int]] = field(default_factory=dict)  # trainer name → model_facts
    seconds: float | None = None
    world: World = SINGLE
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
        elif _is_run_dir(self.out_dir):
            for name in RUN_FILES:
                (self.out_dir / name).unlink(missing_ok=True)
            for png in self.out_dir.glob("*.png"):
                png.unlink()
            shutil.rmtree(self.out_dir / "checkpoint", ignore_errors=True)
            shutil.rmtree(self.out_dir / "tensorboard", ignore_errors=True)
        atomic_write_json(self.out_dir / "config.json", self.config_record)
        self._opened = True

    @property
    def meta(self) -> dict[str, Any]:
        """Stored in each checkpoint, checked on resume."""
        return {"experiment": self.experiment, "config": to_dict(self.config)}

    def trainer(self, model: torch.nn.Module, loss_fn: Any, optimizer: Any, train_loader: Any,
                test_loader: Any = None, **kwargs: Any) -> Trainer:
        """A :class:`Trainer` writing to this run's directory, for ``config.epochs`` epochs
        unless ``epochs=`` is given. Experiments that train several models give each a
        ``name=`` so their metrics and checkpoints are kept apart. The config's ``precision``
        and ``compile`` and the run's processes (``world``) apply unless given."""
        self.open()
        kwargs.setdefault("epochs", self.config.epochs)
        kwargs.setdefault("progress", self.progress)
        kwargs.setdefault("precision", getattr(self.config, "precision", "fp32"))
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

    def save_figure(self, fig: Figure, name: str) -> Path:
        """Write ``fig`` as ``NAME.png`` in the run directory (process 0 only)."""
        self.open()
        path = self.out_dir / f"{name}.png"
        if self.world.is_main:
            figures.save(fig, path)
        self.figures.append(path)
        return path
