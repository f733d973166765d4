"""Mutant: lays (B,) lengths out as (B, 1, 1) whatever the scores' rank (right for (B, q, k) only)."""

import torch
from torch import Tensor

HINT = "masked-softmax-broadcast"


def masked_softmax(scores: Tensor, valid_len: Tensor | None = None) -> Tensor:
    if valid_len is None:
        return torch.softmax(scores, dim=-1)
    lengths = valid_len[:, None, None] if valid_len.dim() == 1 else valid_len[:, :, None]
    keep = torch.arange(scores.shape[-1]) < lengths
    return torch.softmax(scores.masked_fill(~keep, -1e9), dim=-1)
