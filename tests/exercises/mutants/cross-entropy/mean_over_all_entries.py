"""Mutant: masks the log-probabilities with a one-hot target and averages over all n·C entries."""

import torch
from torch import Tensor

HINT = "cross-entropy-true-class"


def cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    shifted = logits - logits.amax(dim=1, keepdim=True)
    log_p = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    one_hot = torch.zeros_like(log_p)
    one_hot[torch.arange(len(target)), target] = 1.0
    losses = -(log_p * one_hot)
    if reduction == "sum":
        return losses.sum()
    return losses.sum(dim=1) if reduction == "none" else losses.mean()
