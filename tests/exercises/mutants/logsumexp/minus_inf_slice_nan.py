"""Mutant: shifts by the maximum even when it is −inf, so an all −inf slice gives −inf − (−inf) = NaN."""

import torch
from torch import Tensor

HINT = "logsumexp-minus-inf"


def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    m = x.amax(dim=dim, keepdim=True)
    out = m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))
    return out if keepdim else out.squeeze(dim)
