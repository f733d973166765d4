"""Every checker catches the typical wrong implementations kept in ``mutants/EXERCISE/*.py``,
each with the hint written in the mutant's ``HINT``; every exercise has at least two."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from divelab.exercises.checker import check
from divelab.exercises.registry import EXERCISES

MUTANTS = Path(__file__).parent / "mutants"
FILES = sorted(MUTANTS.glob("*/*.py"))


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"mutant_{path.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_mutant_is_caught_with_its_hint(path: Path) -> None:
    exercise = EXERCISES[path.parent.name]
    mutant = load(path)
    result = check(exercise, getattr(mutant, exercise.entry))
    assert not result.passed, f"{path.name} passed the checker of {exercise.name}"
    assert result.hint is not None and result.hint.id == mutant.HINT, (
        f"{path.name}: hint {result.hint.id if result.hint else None!r}, expected {mutant.HINT!r}\n{result}")


@pytest.mark.parametrize("name", list(EXERCISES))
def test_every_exercise_has_two_mutants_with_different_hints(name: str) -> None:
    hints = {load(p).HINT for p in (MUTANTS / name).glob("*.py")}
    assert len(hints) >= 2, f"{name}: mutants with {len(hints)} distinct hint(s) in {MUTANTS / name}"
