"""Mutant: x − log Σ exp(x) without the max shift (exp overflows at 1000)."""

import torch
from torch import Tensor

HINT = "log-softmax-overflow"


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x - torch.log(torch.exp(x).sum(dim=dim, keepdim=True))
