"""Train with your own code: ``divelab run EXPERIMENT --set impl=FILE``.

An exercise names the experiments that use exactly its piece (``Exercise.experiments``:
``dropout`` → ``dropout-scratch``). The learner's file must first pass its check (in the
sandbox, like ``divelab exercise check``); then it is imported into this process — it is the
learner's own code, run at their request — and, for the length of the run, every binding of
the project's solution in divelab's loaded modules points at the learner's function instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from divelab.errors import UserError
from divelab.exercises.checker import resolve
from divelab.exercises.registry import EXERCISES
from divelab.exercises.spec import Exercise


@dataclass(frozen=True)
class LearnerPiece:
    """A learner's function that passed its check, ready to stand in for the solution."""

    exercise: Exercise
    fn: Callable[..., Any]
    path: Path
    sha256: str

    def record(self) -> dict[str, str]:
        """What config.json keeps of it."""
        return {"exercise": self.exercise.name, "file": str(self.path), "sha256": self.sha256}


def exercise_for(experiment: str) -> Exercise:
    """The exercise whose piece ``experiment`` uses; a UserError naming those that accept one otherwise."""
    for exercise in EXERCISES.values():
        if experiment in exercise.experiments:
            return exercise
    accepting = sorted({f"{x} ({e.name})" for e in EXERCISES.values() for x in e.experiments})
    raise UserError(f"experiment {experiment!r} takes no impl= file; these do: {', '.join(accepting)}")


def load_piece(experiment: str, file: str) -> LearnerPiece:
    """Check the learner's ``file`` for the exercise of ``experiment`` and import its function."""
    from divelab.exercises.sandbox import check_file

    exercise = exercise_for(experiment)
    path = Path(file).resolve()
    if not path.is_file():
        raise UserError(f"impl={file}: no such file; write it with 'divelab exercise start {exercise.name}'")
    result = check_file(path, [exercise.name], seed=secrets.randbelow(10**6))[exercise.name]
    if not result.passed:
        raise UserError(f"impl={file} does not pass the {exercise.name} check yet ({result.reason()}); "
                        f"see 'divelab exercise check {exercise.name} --dir {path.parent}'")
    spec = importlib.util.spec_from_file_location(f"divelab_learner_{exercise.name.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None  # a .py file that just passed its check
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return LearnerPiece(exercise, getattr(module, exercise.entry), path, hashlib.sha256(path.read_bytes()).hexdigest())


@contextmanager
def swapped_in(piece: LearnerPiece) -> Iterator[None]:
    """Within the block, divelab's modules call the learner's function wherever they held the solution."""
    if piece.exercise.swap_target is not None:
        with _class_attribute(piece.exercise.swap_target, piece.fn):
            yield
        return
    original = resolve(piece.exercise.solution)
    changed = []
    for module in list(sys.modules.values()):
        if not getattr(module, "__name__", "").startswith("divelab."):
            continue
        for name, value in list(vars(module).items()):
            if value is original:
                setattr(module, name, piece.fn)
                changed.append((module, name))
    try:
        yield
    finally:
        for module, name in changed:
            setattr(module, name, original)


@contextmanager
def _class_attribute(target: str, fn: Callable[..., Any]) -> Iterator[None]:
    """``"module:Class.attr"`` set to ``fn`` (as a static method) within the block."""
    owner_path, _, attr = target.rpartition(".")
    owner = resolve(owner_path)
    saved = owner.__dict__.get(attr)
    setattr(owner, attr, staticmethod(fn))
    try:
        yield
    finally:
        setattr(owner, attr, saved)
