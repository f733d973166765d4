"""Mutant: leaves out the tanh, so the score w_vᵀ(W_q q + W_k k) is linear (and splits into a query and a key part)."""

import torch
from torch import Tensor

HINT = "additive-score"


def additive_attention(queries: Tensor, keys: Tensor, values: Tensor, W_q: Tensor, W_k: Tensor,
                       w_v: Tensor, valid_len: Tensor | None = None) -> Tensor:
    features = (queries @ W_q.T)[:, :, None] + (keys @ W_k.T)[:, None]
    scores = (features @ w_v.T).squeeze(-1)
    if valid_len is not None:
        lengths = valid_len[:, None, None] if valid_len.dim() == 1 else valid_len[:, :, None]
        scores = scores.masked_fill(torch.arange(scores.shape[-1]) >= lengths, -1e6)
    return torch.softmax(scores, dim=-1) @ values
