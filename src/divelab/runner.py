"""Run an experiment by name: resolve its config, device and output directory, write the run files.

This is the Python API behind ``divelab run``::

    import divelab
    result = divelab.run("mlp", epochs=2)
    result.summary["test_acc"], result.figures

Started by ``torchrun`` (``WORLD_SIZE`` > 1), :func:`run` joins the process group (gloo on
CPUs, NCCL on ``cuda:LOCAL_RANK``), runs the experiment in every process — the trainer
trains data-parallel — and leaves the group at the end; process 0 alone writes the run's
files. Same experiment, same settings, one process or many.

One thing, an experiment's run from start to finish (config, resume checks, device, threads,
precision, run files, reading a run back), kept in one module because these steps share the run
directory's rules and read in order.
"""

from __future__ import annotations

import difflib
import errno
import json
import os
import platform
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from divelab import files, lock, machine, rundir
from divelab.config import RunConfig, build_config, parse_setting, to_dict
from divelab.errors import CheckpointError, UserError
from divelab.experiment import Experiment, RunContext
from divelab.experiments import EXPERIMENTS
from divelab.train import checkpoint, distributed, precision
from divelab.train.distributed import World


@dataclass
class RunResult:
    """What a run produced: its directory, final summary, per-epoch history and figures."""

    name: str
    out_dir: Path
    summary: dict[str, Any]
    history: list[dict[str, Any]]
    figures: list[Path]
    rank: int = 0  # which process of a torchrun launch returned this (0 prints, the others need not)


def get_experiment(name: str) -> Experiment:
    if name in EXPERIMENTS:
        return EXPERIMENTS[name]
    close = difflib.get_close_matches(name, EXPERIMENTS, n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else "; 'divelab list' shows them all"
    raise UserError(f"unknown experiment {name!r}{hint}")


def resolve_device(name: str) -> torch.device:
    """``auto`` → the first CUDA GPU if there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name} asked for, but PyTorch {torch.__version__} sees no CUDA GPU; "
                        "use --device cpu (or auto)")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise UserError(f"--device {name} asked for, but there are only {torch.cuda.device_count()} CUDA GPU(s); "
                        f"use cuda:0 … cuda:{torch.cuda.device_count() - 1}")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps asked for, but the MPS backend is not available; use --device cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_threads(processes: int = 1) -> None:
    """Use the CPUs this process may run on (a container often sees more than it gets),
    shared among ``processes`` processes on this machine."""
    if "OMP_NUM_THREADS" not in os.environ and hasattr(os, "sched_getaffinity"):
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // processes))


def _resumed_config(exp: Experiment, out_dir: Path, overrides: dict[str, Any]) -> RunConfig:
    """The checkpoint's config with the allowed overrides; any other change is an error.

    The whole checkpoint is read here, before anything is written, so a corrupt one is
    reported while the run directory is still untouched.
    """
    found = checkpoint.find(out_dir) or out_dir / "checkpoint"
    state = checkpoint.load(found)
    for other in sorted((out_dir / "checkpoint").glob(f"*/{checkpoint.STATE_FILE}")):
        checkpoint.load(other.parent)  # every sub-run's checkpoint is whole (checksums) before anything changes
    meta, position = state.get("meta"), state.get("position")
    if not isinstance(meta, dict) or not isinstance(position, dict) or not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"checkpoint in {found} lacks its run description; delete it and start afresh")
    if meta.get("experiment") != exp.name:
        raise CheckpointError(f"{out_dir} holds a run of {meta.get('experiment')!r}, not {exp.name!r}; "
                              "choose another --out directory")
    saved = meta["config"]
    config = build_config(exp.config, {**saved, **overrides})
    for key in overrides:
        if key not in config.resumable() and getattr(config, key) != _saved_value(exp, saved, key):
            scheduled = key == "epochs" and _scheduled(config, state)
            why = " (its learning-rate schedule is planned over the whole run)" if scheduled else ""
            raise UserError(f"cannot change {key} when resuming{why}; the run used {saved.get(key)!r}. "
                            "Drop the setting or start a new run with another --out")
    done = int(position.get("epoch", 1)) - 1
    if config.epochs < done:
        raise UserError(f"the run in {out_dir} has done {done} epochs; --epochs {config.epochs} cannot undo them")
    return config


def _saved_value(exp: Experiment, saved: dict[str, Any], key: str) -> Any:
    """Setting ``key`` of a checkpoint's config as the field holds it (a JSON list read back as a
    tuple; a run saved before a list setting became a tuple holds it as text), None if absent."""
    if key not in saved:
        return None
    try:
        return parse_setting(exp.config, key, saved[key])
    except UserError:  # a value this version no longer accepts: it differs from any it accepts
        return saved[key]


def _scheduled(config: RunConfig, state: dict[str, Any]) -> bool:
    """Whether the run has a learning-rate schedule, the usual reason it may not change ``epochs``:
    a ``schedule`` setting other than ``constant``, or a scheduler saved in its checkpoint (one
    fixed by the experiment, as covariate-shift's cosine). Others fix ``epochs`` for reasons of
    their own (concept-shift: more pretraining would move the alarms)."""
    return getattr(config, "schedule", None) not in (None, "constant") or state.get("scheduler") is not None


def _check_out_dir(out_dir: Path) -> None:
    """Refuse an output location that cannot hold a run, before any work is done."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir} is a file, not a directory; choose another location")
    probe = out_dir
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to {probe}; choose another --out directory")
    try:
        files.probe_writable(probe)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise UserError(f"no space left on the disk of {probe} ({exc.strerror}); free some space "
                            "or choose another --out directory") from None
        raise UserError(f"cannot write to {probe} ({exc.strerror or exc}); choose another --out directory") from None


def _check_device(config: RunConfig, world: World) -> torch.device:
    """This process's device, and the precision it can run."""
    device = distributed.process_device(world, resolve_device(config.device))
    if config.precision == "fp16" and device.type == "cpu":
        raise UserError("precision=fp16 needs a CUDA GPU (its loss scaling is made for GPU fp16 kernels); "
                        "on a CPU use precision=bf16")
    return device


def _version() -> str:
    """This installation's divelab version (package metadata; "unknown" when run from a bare source tree)."""
    try:
        return metadata.version("divelab")
    except metadata.PackageNotFoundError:
        return "unknown"


def _warn_if_threads_changed(out_dir: Path) -> None:
    """Say so when a resumed run continues with another thread count than it began with: float
    sums are then grouped differently and it no longer ends bit for bit as an uninterrupted run."""
    try:
        before = json.loads((out_dir / "config.json").read_text(encoding="utf-8")).get("threads")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return
    now = torch.get_num_threads()
    if isinstance(before, int) and before != now:
        print(f"warning: this run began with {before} threads and continues with {now}, so it will not end bit "
              f"for bit where an uninterrupted run would; OMP_NUM_THREADS={before} continues it as it began",
              file=sys.stderr)


def _check_fresh_start(out_dir: Path, name: str) -> None:
    """Refuse to start over an interrupted run: its checkpoint would be lost."""
    found = checkpoint.find(out_dir)
    if found is None or (out_dir / "summary.json").is_file():
        return
    try:
        other = checkpoint.read_state_json(found)["state"].get("meta", {}).get("experiment")
    except (CheckpointError, AttributeError):
        other = None
    if isinstance(other, str) and other != name:
        raise UserError(f"{out_dir} holds an unfinished run of {other}; finish it with 'divelab run {other} "
                        f"--out {out_dir} --resume', or give another --out directory for {name}")
    raise UserError(f"{out_dir} holds an unfinished run; continue it with --resume, "
                    "or give another --out directory (or delete it) to start afresh")


def _config_record(exp: Experiment, config: RunConfig, device: torch.device, world: World) -> dict[str, Any]:
    """What ``config.json`` holds: the settings used and, beside them, the experiment's defaults and
    headline keys, so that a reader of the run (``divelab report``) needs the run's files alone."""
    return {
        "experiment": exp.name,
        "settings": to_dict(config),
        "defaults": to_dict(exp.config()),
        "headline": list(exp.headline),
        "seed": config.seed,
        "device": str(device),
        "processes": world.world_size,
        "threads": torch.get_num_threads(),
        "machine": machine.facts(device),
        "versions": {"divelab": _version(), "torch": torch.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _swapped_in(piece: Any) -> Any:
    if piece is None:
        return nullcontext()
    from divelab.exercises.swap import swapped_in

    return swapped_in(piece)


def _learner_piece(name: str, impl: Any) -> Any:
    """The learner's checked function for ``impl=FILE``, or None (exercises load only when asked for)."""
    if not impl:
        return None
    from divelab.exercises.swap import load_piece

    return load_piece(name, str(impl))


def run(name: str, *, out: str | Path | None = None, resume: bool = False, progress: bool = True,
        **settings: Any) -> RunResult:
    """Run experiment ``name`` with ``settings`` overriding its config defaults.

    Settings may be Python values or strings (as from ``--set``); each is checked against
    the experiment's config dataclass. Output goes to ``out`` (default ``runs/NAME``).
    ``impl=FILE`` runs the experiment with a learner's exercise file in place of the
    project's piece (see :mod:`divelab.exercises.swap`), once the file passes its check.
    """
    impl = settings.pop("impl", None)
    exp = get_experiment(name)
    world = distributed.world_from_env()
    if out is not None and not str(out).strip():
        raise UserError("--out is empty; give a directory, e.g. --out runs/NAME")
    out_dir = Path(out) if out is not None else Path("runs") / name
    if world.is_main:
        _check_out_dir(out_dir)
    if resume:
        config = _resumed_config(exp, out_dir, settings)
    else:
        config = build_config(exp.config, settings)
    device = _check_device(config, world)
    piece = _learner_piece(name, impl)
    if world.is_main and not resume:
        rundir.check_fresh(out_dir)  # before the lock file goes into a directory that is not ours
    with lock.exclusive(out_dir) if world.is_main else nullcontext():
        if not resume:
            _check_fresh_start(out_dir, name)
        return _run_locked(exp, config, out_dir, device, world, resume, progress, piece)


def _run_locked(exp: Experiment, config: RunConfig, out_dir: Path, device: torch.device, world: World,
                resume: bool, progress: bool, piece: Any) -> RunResult:
    """The run itself, once its directory is this process's (:func:`divelab.lock.exclusive`)."""
    name = exp.name
    if piece is not None and world.is_main:
        print(f"{name}: your {piece.exercise.entry}() from {piece.path} passed its check and takes the place "
              f"of divelab's", file=sys.stderr)
    set_threads(int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if world.enabled else 1)
    if resume and world.is_main:
        _warn_if_threads_changed(out_dir)
    used, why = precision.choose(config.precision, device, exp.bf16)
    if config.precision == "auto" and exp.bf16 and progress and world.is_main:  # the machine decided
        print(f"{name}: precision {used} ({why}; --set precision=fp32 to force fp32)", file=sys.stderr)

    with distributed.process_group(world, device):
        seed_everything(config.seed)  # the same in every process: same data, same initial weights
        record = _config_record(exp, config, device, world) | {"precision": {"used": used, "reason": why}}
        ctx = RunContext(experiment=name, config=config, out_dir=out_dir, device=device, resume=resume,
                         progress=progress and world.is_main, world=world, config_record=record,
                         precision=used)
        if piece is not None:
            ctx.config_record["impl"] = piece.record()
        start = time.perf_counter()
        with _swapped_in(piece):
            results = exp.fn(config, ctx)
        ctx.open()
        summary = {"experiment": name, **results,
                   "seconds": round(ctx.seconds if ctx.seconds is not None else time.perf_counter() - start, 3),
                   "precision": used}
        if ctx.models:  # a table: one row per trained model
            summary.setdefault("models", [{"name": k, **facts} for k, facts in ctx.models.items()])
        if world.is_main:
            files.atomic_write_json(out_dir / "summary.json", summary)
            rundir.write_manifest(out_dir, ctx.kept, finished=True)
    return RunResult(name, out_dir, summary, ctx.history, ctx.figures, world.rank)


def load_run(directory: str | Path) -> RunResult:
    """Read a finished run back from its directory (for ``divelab show``).

    A run is known by its own markers: ``config.json`` naming the experiment and its
    settings, and a ``summary.json`` of the same experiment with its ``seconds``; any
    other JSON is refused rather than shown as a run.
    """
    directory = Path(directory)
    config = _read_object(directory / "config.json")
    if not isinstance(config, dict) or not {"experiment", "settings"} <= config.keys():
        raise UserError(f"{directory} holds no divelab run (no config.json of a run); "
                        "give a run directory such as runs/mlp")
    name = str(config["experiment"])
    summary_path = directory / "summary.json"
    if not summary_path.is_file():
        if checkpoint.find(directory) is not None:
            raise UserError(f"{directory} holds an unfinished run; finish it with "
                            f"'divelab run {name} --out {directory} --resume'")
        raise UserError(f"{directory} holds a run of {name} that has not finished (no summary.json)")
    summary = _read_object(summary_path)
    if not isinstance(summary, dict) or summary.get("experiment") != name or "seconds" not in summary:
        raise UserError(f"{summary_path} is not the summary of this {name} run; run it again with --out {directory}")
    try:
        history = [json.loads(line) for line in (directory / "metrics.jsonl").read_text().splitlines() if line] \
            if (directory / "metrics.jsonl").is_file() else []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{directory} has an unreadable run file ({exc})") from None
    if not all(isinstance(r, dict) for r in history):
        raise UserError(f"{directory}/metrics.jsonl is not divelab's (each line must be a JSON object)")
    figures = sorted(directory.glob("*.png"))
    return RunResult(name, directory, summary, history, figures)


def _read_object(path: Path) -> Any:
    """The JSON in ``path``; None when the file is missing; a UserError naming it when unreadable."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} is unreadable ({exc}); run the experiment again with another --out") from None


def default_settings(name: str) -> dict[str, Any]:
    """The default config of experiment ``name`` as a dict, as config.json holds it (tuples as lists)."""
    return to_dict(get_experiment(name).config())
