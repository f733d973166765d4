"""Mutant: divides by the sum over the whole tensor, not along dim."""

import torch
from torch import Tensor

HINT = "softmax-dim"


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / e.sum()
