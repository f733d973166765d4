"""Mutant: torch.where(x >= 0, x, 0): the gradient at x = 0 is 1 instead of torch's 0."""

import torch
from torch import Tensor

HINT = "relu-gradient-at-zero"


def relu(x: Tensor) -> Tensor:
    return torch.where(x >= 0, x, torch.zeros_like(x))
