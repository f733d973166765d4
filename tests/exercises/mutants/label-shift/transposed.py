"""Mutant: solves Cᵀ w = μ (labels on the rows) instead of C w = μ."""

import torch
from torch import Tensor

HINT = "label-shift-transposed"


def estimate_label_shift(confusion: Tensor, target_mean: Tensor) -> tuple[Tensor, Tensor]:
    w = torch.linalg.solve(confusion.T, target_mean)
    return w, w * confusion.sum(1)
