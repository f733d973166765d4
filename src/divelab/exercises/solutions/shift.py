"""Chapter 8 solutions with the exercises' signatures, built on :mod:`divelab.analysis.shift`."""

from __future__ import annotations

from torch import Tensor

from divelab.analysis import shift


def estimate_label_shift(confusion: Tensor, target_mean: Tensor) -> tuple[Tensor, Tensor]:
    """BBSE's ``(w, q)`` from :func:`divelab.analysis.shift.estimate_label_shift` (the exact
    solve for the exercise's well-conditioned cases, NNLS otherwise)."""
    estimate = shift.estimate_label_shift(confusion, target_mean)
    return estimate.w, estimate.q


def page_hinkley(stream: Tensor, delta: float = 0.005, threshold: float = 20.0, min_samples: int = 30) -> list[int]:
    """The alarm positions of a fresh :class:`divelab.analysis.shift.PageHinkley` fed ``stream``."""
    return shift.PageHinkley(delta, threshold, min_samples).alarms(stream)
