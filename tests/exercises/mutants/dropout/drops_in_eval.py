"""Mutant: applies dropout in evaluation mode too."""

import torch
from torch import Tensor

HINT = "dropout-eval"


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    if p == 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) > p) / (1 - p)
