"""Chapter 4 — optimisation (placeholder; filled in by issue 4)."""

from __future__ import annotations

from divelab.experiment import Experiment

EXPERIMENTS: list[Experiment] = []
