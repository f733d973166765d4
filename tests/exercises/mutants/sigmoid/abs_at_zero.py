"""Mutant: the stable form with e = exp(−|x|) written with abs, whose derivative at 0 is 0 (σ'(0) comes out 0)."""

import torch
from torch import Tensor

HINT = "sigmoid-abs-at-zero"


def sigmoid(x: Tensor) -> Tensor:
    e = torch.exp(-x.abs())
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))
