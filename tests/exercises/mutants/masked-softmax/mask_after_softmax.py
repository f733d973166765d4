"""Mutant: takes the softmax over all keys, then zeroes the masked weights (rows no longer sum to 1)."""

import torch
from torch import Tensor

HINT = "masked-softmax-normalise"


def masked_softmax(scores: Tensor, valid_len: Tensor | None = None) -> Tensor:
    weights = torch.softmax(scores, dim=-1)
    if valid_len is None:
        return weights
    if valid_len.dim() == 1:
        lengths = valid_len.reshape(-1, *(1,) * (scores.dim() - 1))
    else:
        lengths = valid_len.reshape(valid_len.shape[0], *(1,) * (scores.dim() - 3), scores.shape[-2], 1)
    keep = torch.arange(scores.shape[-1]) < lengths
    return weights * keep
