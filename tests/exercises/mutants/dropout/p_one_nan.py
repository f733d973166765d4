"""Mutant: divides by 1 − p even when p = 1, so every element becomes 0/0 = NaN."""

import torch
from torch import Tensor

HINT = "dropout-p1"


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    if not training:
        return x
    return x * (torch.rand_like(x) > p) / (1 - p)
