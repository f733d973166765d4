"""Mutant: tol=None means 0 here — exact signs, so eigenvalues at the rounding level still count."""

import torch
from torch import Tensor

HINT = "critical-point-default-tol"


def classify(eigenvalues: Tensor, tol: float | None = None) -> str:
    tol = 0.0 if tol is None else tol
    positive, negative = (eigenvalues > tol).any(), (eigenvalues < -tol).any()
    if positive and negative:
        return "saddle point"
    if (eigenvalues.abs() <= tol).any():
        return "degenerate"
    return "local minimum" if positive else "local maximum"
