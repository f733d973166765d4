"""Mutant: subtracts the maximum before exp but forgets to add it back."""

import torch
from torch import Tensor

HINT = "logsumexp-add-back"


def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    m = x.amax(dim=dim, keepdim=True)
    return torch.log(torch.exp(x - m).sum(dim=dim, keepdim=keepdim))
