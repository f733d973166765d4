"""Mutant: d2l's version, filling masked scores with −10⁶: a row with valid_len 0 becomes uniform, not 0."""

import torch
from torch import Tensor

HINT = "masked-softmax-empty"


def masked_softmax(scores: Tensor, valid_len: Tensor | None = None) -> Tensor:
    if valid_len is None:
        return torch.softmax(scores, dim=-1)
    if valid_len.dim() == 1:
        lengths = valid_len.reshape(-1, *(1,) * (scores.dim() - 1))
    else:
        lengths = valid_len.reshape(valid_len.shape[0], *(1,) * (scores.dim() - 3), scores.shape[-2], 1)
    keep = torch.arange(scores.shape[-1]) < lengths
    return torch.softmax(scores.masked_fill(~keep, -1e6), dim=-1)
