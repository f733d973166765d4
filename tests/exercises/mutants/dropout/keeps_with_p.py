"""Mutant: keeps each element with probability p instead of 1 − p."""

import torch
from torch import Tensor

HINT = "dropout-fraction"


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) < p) / (1 - p)
