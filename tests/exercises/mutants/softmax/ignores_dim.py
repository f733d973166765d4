"""Mutant: always normalises along the last axis, whatever dim says."""

import torch
from torch import Tensor

HINT = "softmax-dim"


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    e = torch.exp(x - x.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)
