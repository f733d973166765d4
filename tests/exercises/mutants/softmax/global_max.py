"""Mutant: subtracts the maximum of the whole tensor, not of each slice (a slice far below underflows to 0/0)."""

import torch
from torch import Tensor

HINT = "softmax-slice-max"


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    e = torch.exp(x - x.max())
    return e / e.sum(dim=dim, keepdim=True)
