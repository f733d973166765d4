"""A run directory holds a manifest of the files divelab wrote there, and nothing else is deleted.

``OUT/.divelab-files.json`` lists, relative to ``OUT``:

- ``files`` — what the run wrote (written as the run opens its directory, and again, with
  every file then present, when it finishes: ``finished: true``);
- ``kept`` — files that were already there when the run began, and that no run deletes.

A fresh run into a directory:

- that is new, empty, or holds only its lock: runs;
- that holds a finished run's manifest: deletes the files listed in ``files`` (only those;
  a file added after the run finished stays);
- that holds an unfinished run's manifest (a crash): deletes what appeared after the run
  began, everything but ``kept``;
- that holds a run written before manifests existed (``config.json`` naming an experiment):
  deletes that run's own file names (``config.json``, ``metrics*.jsonl``, ``summary.json``,
  ``*.png``, ``checkpoint/``, ``tensorboard/``);
- that holds anything else: is refused (:func:`check_fresh`), naming what is there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from divelab.errors import UserError
from divelab.files import atomic_write_json
from divelab.lock import LOCK_FILE

MANIFEST = ".divelab-files.json"
OWN = {LOCK_FILE, MANIFEST}
LEGACY_FILES = ("config.json", "summary.json")
LEGACY_PATTERNS = ("metrics*.jsonl", "*.png")
LEGACY_DIRS = ("checkpoint", "tensorboard")


def _files(directory: Path) -> set[str]:
    """Every file (or link) under ``directory``, relative, but the lock and the manifest."""
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*")
            if not p.is_dir() or p.is_symlink()} - OWN


def read_manifest(directory: Path) -> dict[str, object] | None:
    """The manifest of ``directory``'s run, or None where there is none (or it is not divelab's)."""
    try:
        record = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    ok = isinstance(record, dict) and all(isinstance(record.get(k), list) for k in ("files", "kept"))
    return record if ok else None


def is_legacy_run(directory: Path) -> bool:
    """Whether ``directory`` holds a run written before manifests: a ``config.json`` naming an experiment."""
    try:
        record = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(record, dict) and {"experiment", "settings"} <= record.keys()


def check_fresh(directory: Path) -> None:
    """Refuse a fresh run into a non-empty directory that holds no divelab run."""
    if not directory.is_dir() or read_manifest(directory) is not None or is_legacy_run(directory):
        return
    entries = sorted(p.name for p in directory.iterdir() if p.name not in OWN)
    if entries:
        shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
        raise UserError(f"{directory} is not empty and holds no divelab run ({shown}); choose a new or empty "
                        "--out directory")


def _remove(directory: Path, relative: str) -> None:
    path = directory / relative
    if directory.resolve() not in path.resolve().parents and not path.is_symlink():
        return  # a manifest naming a path outside the run directory is not followed
    if path.is_symlink() or path.is_file():
        path.unlink()
    for parent in path.parents:  # directories the run made and left empty
        if parent == directory or not parent.is_dir() or any(parent.iterdir()):
            break
        parent.rmdir()


def clear_for_fresh_run(directory: Path) -> list[str]:
    """Delete the previous run's files (module docstring); return the files that stay (``kept``)."""
    manifest = read_manifest(directory)
    present = _files(directory)
    if manifest is not None:
        kept = {str(f) for f in manifest["kept"]}
        ours = {str(f) for f in manifest["files"]} if manifest.get("finished") else present - kept
        for relative in sorted(ours & present):
            _remove(directory, relative)
    elif is_legacy_run(directory):
        for name in LEGACY_FILES:
            (directory / name).unlink(missing_ok=True)
        for pattern in LEGACY_PATTERNS:
            for path in directory.glob(pattern):
                path.unlink()
        for name in LEGACY_DIRS:
            shutil.rmtree(directory / name, ignore_errors=True)
    return sorted(_files(directory))


def write_manifest(directory: Path, kept: list[str], finished: bool) -> None:
    """List every file now in ``directory`` but ``kept`` as the run's own."""
    files = sorted(_files(directory) - set(kept))
    atomic_write_json(directory / MANIFEST, {"files": files, "kept": kept, "finished": finished})
