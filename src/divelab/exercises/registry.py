"""The exercise registry: every exercise of every chapter, listed explicitly, in the course's order.

Importing it loads the chapter modules, which import torch only: it is safe in the child
process that runs a learner's file (no solution is imported here).
"""

from __future__ import annotations

import difflib

from divelab.errors import UserError
from divelab.exercises.chapters import (attention, basics, cnn, generalization, optimization, recurrent, shift,
                                        stability)
from divelab.exercises.spec import Exercise

_CHAPTERS = [basics, generalization, stability, optimization, cnn, recurrent, attention, shift]

CHAPTER_TITLES = {1: "Basics", 2: "Generalisation", 3: "Backpropagation and numerical stability",
                  4: "Optimisation", 5: "Convolutional networks", 6: "Recurrent networks",
                  7: "Attention and translation", 8: "Distribution shift"}

EXERCISES: dict[str, Exercise] = {e.name: e for module in _CHAPTERS for e in module.EXERCISES}


def get_exercise(name: str) -> Exercise:
    if name in EXERCISES:
        return EXERCISES[name]
    close = difflib.get_close_matches(name, EXERCISES, n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else "; 'divelab exercise list' shows them all"
    raise UserError(f"unknown exercise {name!r}{hint}")
