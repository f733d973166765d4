"""Generated from the exercise registry: every exercise's checker passes the project's own
solution, its skeleton is a valid file that reports "not started", its solution can be shown,
and the registry covers every chapter without loading a single solution."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from divelab.exercises.checker import check, resolve
from divelab.exercises.registry import CHAPTER_TITLES, EXERCISES
from divelab.exercises.spec import Exercise
from divelab.exercises.workspace import skeleton, solution_source, start, status_of

ALL = list(EXERCISES.values())
IDS = [e.name for e in ALL]


@pytest.mark.parametrize("exercise", ALL, ids=IDS)
def test_the_project_solution_passes_its_checker(exercise: Exercise) -> None:
    for seed in (0, 12345):
        result = check(exercise, resolve(exercise.solution), seed=seed)
        assert result.passed, str(result)


@pytest.mark.parametrize("exercise", ALL, ids=IDS)
def test_the_skeleton_compiles_and_is_not_started(exercise: Exercise, tmp_path: Path) -> None:
    path = start(exercise, tmp_path)
    spec = importlib.util.spec_from_file_location("skeleton", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, exercise.entry)
    mine = list(inspect.signature(fn).parameters)
    theirs = list(inspect.signature(resolve(exercise.solution)).parameters)
    assert theirs[:len(mine)] == mine, "the skeleton's parameters must begin the solution's (one replaces the other)"
    assert check(exercise, fn).status == "not started"
    assert status_of(exercise, tmp_path) == "not started"


@pytest.mark.parametrize("exercise", ALL, ids=IDS)
def test_the_solution_can_be_shown(exercise: Exercise) -> None:
    text = solution_source(exercise)
    assert "def " in text or "class " in text


def test_every_chapter_has_exercises_and_there_are_thirty() -> None:
    assert {e.chapter for e in ALL} == set(CHAPTER_TITLES)
    assert len(ALL) >= 30


def test_exercise_files_have_distinct_names() -> None:
    names = [skeleton(e).splitlines()[0] for e in ALL]
    assert len(set(names)) == len(names)


def test_the_registry_loads_no_solution() -> None:
    """The sandboxed child imports the registry: no solution may come with it."""
    code = ("import sys, divelab.exercises.registry, divelab.exercises.checker, divelab.exercises.child\n"
            "print(' '.join(m for m in sys.modules if m.startswith('divelab.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    allowed = ("divelab.exercises", "divelab.errors")
    assert [m for m in loaded if not m.startswith(allowed) or m.startswith("divelab.exercises.solutions")] == []
