"""Mutant: −log of a (stable) softmax: a true class 2e4 below the max has probability 0, loss inf."""

import torch
from torch import Tensor

HINT = "cross-entropy-stable"


def cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    e = torch.exp(logits - logits.amax(dim=1, keepdim=True))
    p = e / e.sum(dim=1, keepdim=True)
    losses = -torch.log(p[torch.arange(len(target)), target])
    if reduction == "sum":
        return losses.sum()
    return losses if reduction == "none" else losses.mean()
