"""Mutant: forgets to divide the kept elements by 1 − p (plain, not inverted, dropout)."""

import torch
from torch import Tensor

HINT = "dropout-scale"


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) > p)
