"""What every distribution-shift run must write, checked the same way for the three experiments
(used by ``test_covariate_shift``, ``test_label_shift`` and ``test_concept_shift``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from divelab.experiments import EXPERIMENTS


def check_run(name: str, result: Any, out: Path) -> None:
    """summary.json equals the returned summary, every headline number is finite, every figure was drawn."""
    assert json.loads((out / "summary.json").read_text()) == result.summary
    for key in EXPERIMENTS[name].headline:
        assert isinstance(result.summary[key], (int, float)) and math.isfinite(result.summary[key]), key
    assert result.figures and all(p.is_file() and p.stat().st_size > 1000 for p in result.figures)
