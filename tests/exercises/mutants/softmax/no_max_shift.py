"""Mutant: exp of the raw logits, without subtracting the maximum (overflows at 1000)."""

import torch
from torch import Tensor

HINT = "softmax-overflow"


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)
