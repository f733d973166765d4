"""Mutant: calls any point with a near-zero eigenvalue degenerate before looking for both signs."""

import torch
from torch import Tensor

HINT = "critical-point-saddle-first"


def classify(eigenvalues: Tensor, tol: float | None = None) -> str:
    if tol is None:
        tol = eigenvalues.numel() * torch.finfo(eigenvalues.dtype).eps * eigenvalues.abs().max().item()
    if (eigenvalues.abs() <= tol).any():
        return "degenerate"
    if (eigenvalues > 0).all():
        return "local minimum"
    if (eigenvalues < 0).all():
        return "local maximum"
    return "saddle point"
