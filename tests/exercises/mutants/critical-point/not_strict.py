"""Mutant: counts λ ≤ −tol as negative (and λ ≥ tol as positive): equality should be undecided."""

import torch
from torch import Tensor

HINT = "critical-point-strict"


def classify(eigenvalues: Tensor, tol: float | None = None) -> str:
    if tol is None:
        tol = eigenvalues.numel() * torch.finfo(eigenvalues.dtype).eps * eigenvalues.abs().max().item()
    positive, negative = eigenvalues >= tol, eigenvalues <= -tol
    if positive.any() and negative.any():
        return "saddle point"
    if not (positive | negative).all():
        return "degenerate"
    return "local minimum" if positive.all() else "local maximum"
