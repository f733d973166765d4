"""``divelab diagnose RUN_DIR [--baseline RUN_DIR]``: a run's files read and judged by the training guide.

The judging is :mod:`divelab.analysis.diagnosis`; this module reads the run directories
(``config.json``, ``summary.json``, ``metrics*.jsonl``, as the report does) and writes the
result as text or as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from divelab.analysis.diagnosis import Diagnosis, comparators, diagnose_run, model_table
from divelab.errors import UserError
from divelab.report.html import Run, read_run


def load(directory: str | Path, flag: str = "RUN_DIR") -> Run:
    """The run in ``directory``; a directory that holds none, or files that cannot be read, is a UserError."""
    path = Path(directory)
    if not path.is_dir():
        raise UserError(f"{flag} {path} is not a directory; give a run directory such as runs/mlp")
    if not (path / "config.json").is_file():
        raise UserError(f"{path} holds no divelab run (no config.json); give a run directory such as runs/mlp")
    run = read_run(path, path.parent)
    if run is None:
        raise UserError(f"{path}/config.json is not a divelab run's; give a run directory such as runs/mlp")
    if run.problems:
        raise UserError(f"{path}: {run.problems[0]}")
    return run


def diagnose_dir(directory: str | Path, baseline: str | Path | None = None) -> tuple[Run, list[Diagnosis]]:
    """The run in ``directory`` and one diagnosis per model it trained."""
    run = load(directory)
    others = []
    if baseline is not None:
        base = load(baseline, "--baseline")
        histories = {(name or base.experiment): records for name, records in base.histories.items()}
        # a baseline of one model is the simpler model by the user's word when its size is not recorded
        others = comparators(histories, model_table(base.summary), f"the baseline {base.path}",
                             declared_simpler=len(histories) == 1)
    return run, diagnose_run(run.experiment, run.histories, run.summary, run.settings, others, run_dir=str(run.path))


def status_line(run: Run) -> str:
    """E.g. ``runs/mlp · mlp · finished``."""
    status = run.status
    if status == "unfinished":
        diverged = any(r.get("diverged") for h in run.histories.values() for r in h)
        status = "diverged" if diverged else "unfinished"
    return f"{run.path} · {run.experiment} · {status}"


def as_text(run: Run, diagnoses: list[Diagnosis]) -> str:
    """The diagnoses for a terminal: per model, the finding, its evidence, the next steps and other findings."""
    lines = [status_line(run)]
    for d in diagnoses:
        f = d.finding
        lines += ["", f"{d.model}: {f.kind} — {f.title}", "  evidence:"]
        lines += [f"    - {e}" for e in f.evidence]
        if f.advice:
            lines.append("  next:")
            lines += [f"    - {a}" for a in f.advice]
        for other in d.also:
            lines.append(f"  also {other.kind} — {other.title}")
            lines += [f"    - {e}" for e in other.evidence]
    return "\n".join(lines)


def as_json(run: Run, diagnoses: list[Diagnosis]) -> dict[str, Any]:
    return {"run": str(run.path), "experiment": run.experiment, "status": status_line(run).rsplit(" · ", 1)[1],
            "models": [d.to_dict() for d in diagnoses]}
