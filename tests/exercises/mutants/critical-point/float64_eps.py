"""Mutant: the default tolerance always uses float64's ε, even for float32 eigenvalues."""

import torch
from torch import Tensor

HINT = "critical-point-default-tol"


def classify(eigenvalues: Tensor, tol: float | None = None) -> str:
    if tol is None:
        tol = eigenvalues.numel() * torch.finfo(torch.float64).eps * eigenvalues.abs().max().item()
    positive, negative = (eigenvalues > tol).any(), (eigenvalues < -tol).any()
    if positive and negative:
        return "saddle point"
    if (eigenvalues.abs() <= tol).any():
        return "degenerate"
    return "local minimum" if positive else "local maximum"
