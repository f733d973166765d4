"""Mutant: always returns the mean, whatever reduction says."""

import torch
from torch import Tensor

HINT = "cross-entropy-reduction"


def cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    m = logits.amax(dim=1, keepdim=True)
    lse = (m + torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))).squeeze(1)
    return (lse - logits[torch.arange(len(target)), target]).mean()
