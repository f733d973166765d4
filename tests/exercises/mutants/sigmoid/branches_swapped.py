"""Mutant: the stable form with the two branches swapped (it computes σ(−x))."""

import torch
from torch import Tensor

HINT = "sigmoid-formula"


def sigmoid(x: Tensor) -> Tensor:
    e = torch.exp(torch.where(x >= 0, -x, x))
    return torch.where(x >= 0, e / (1 + e), 1 / (1 + e))
