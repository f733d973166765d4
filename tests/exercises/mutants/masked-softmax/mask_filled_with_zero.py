"""Mutant: fills the masked scores with 0 instead of a large negative number, so they keep weight exp(0)/Σ."""

import torch
from torch import Tensor

HINT = "masked-softmax-fill"


def masked_softmax(scores: Tensor, valid_len: Tensor | None = None) -> Tensor:
    if valid_len is None:
        return torch.softmax(scores, dim=-1)
    if valid_len.dim() == 1:
        lengths = valid_len.reshape(-1, *(1,) * (scores.dim() - 1))
    else:
        lengths = valid_len.reshape(valid_len.shape[0], *(1,) * (scores.dim() - 3), scores.shape[-2], 1)
    keep = torch.arange(scores.shape[-1]) < lengths
    return torch.softmax(scores.masked_fill(~keep, 0.0), dim=-1)
