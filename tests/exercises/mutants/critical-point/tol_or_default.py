"""Mutant: `tol = tol or default` — Python's `or` takes tol = 0 for "not given" too."""

import torch
from torch import Tensor

HINT = "critical-point-tol-zero"


def classify(eigenvalues: Tensor, tol: float | None = None) -> str:
    tol = tol or eigenvalues.numel() * torch.finfo(eigenvalues.dtype).eps * eigenvalues.abs().max().item()
    positive, negative = (eigenvalues > tol).any(), (eigenvalues < -tol).any()
    if positive and negative:
        return "saddle point"
    if (eigenvalues.abs() <= tol).any():
        return "degenerate"
    return "local minimum" if positive else "local maximum"
