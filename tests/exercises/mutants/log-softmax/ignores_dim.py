"""Mutant: always reduces along the last axis, whatever dim says."""

import torch
from torch import Tensor

HINT = "log-softmax-dim"


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    shifted = x - x.amax(dim=-1, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=-1, keepdim=True))
