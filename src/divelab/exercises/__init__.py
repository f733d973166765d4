"""Exercises that check a learner's own code against the library twin, and grading for teachers.

From the command line: ``divelab exercise list | start | check | solution | grade``.
From Python or a notebook::

    from divelab import exercises
    result = exercises.check("dropout", my_dropout)   # prints as a report, renders as a table
    result.passed

This package's ``__init__`` imports nothing heavy: the sandboxed child process imports
:mod:`divelab.exercises.child` through it and must not load the project's solutions.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check", "EXERCISES"]


def __getattr__(name: str) -> Any:
    if name == "check":
        from divelab.exercises.checker import check

        return check
    if name == "EXERCISES":
        from divelab.exercises.registry import EXERCISES

        return EXERCISES
    raise AttributeError(f"module 'divelab.exercises' has no attribute {name!r}")
