"""Mutant: always drops the reduced axis, even with keepdim=True."""

import torch
from torch import Tensor

HINT = "logsumexp-keepdim"


def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    m = x.amax(dim=dim, keepdim=True)
    return (m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))).squeeze(dim)
