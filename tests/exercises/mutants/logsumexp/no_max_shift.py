"""Mutant: log Σ exp(x) computed directly (exp overflows at 1000)."""

import torch
from torch import Tensor

HINT = "logsumexp-overflow"


def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    return torch.log(torch.exp(x).sum(dim=dim, keepdim=keepdim))
