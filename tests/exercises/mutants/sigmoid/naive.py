"""Mutant: 1 / (1 + exp(−x)) directly: exp(800) = inf, so the gradient at x = −800 is inf · 0 = NaN."""

import torch
from torch import Tensor

HINT = "sigmoid-overflow"


def sigmoid(x: Tensor) -> Tensor:
    return 1 / (1 + torch.exp(-x))
