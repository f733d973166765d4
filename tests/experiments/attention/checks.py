"""What every attention experiment's run must report: a finite number under each headline key."""

from __future__ import annotations

import math

from divelab.experiments import EXPERIMENTS


def headline_finite(name: str, summary: dict) -> None:
    """Assert that each of experiment ``name``'s headline keys is a finite number in ``summary``."""
    for key in EXPERIMENTS[name].headline:
        assert isinstance(summary[key], (int, float)) and math.isfinite(summary[key]), key
