"""Mutant: never masks, so the padding keys beyond valid_len get weight too."""

import torch
from torch import Tensor

HINT = "additive-mask"


def additive_attention(queries: Tensor, keys: Tensor, values: Tensor, W_q: Tensor, W_k: Tensor,
                       w_v: Tensor, valid_len: Tensor | None = None) -> Tensor:
    features = torch.tanh((queries @ W_q.T)[:, :, None] + (keys @ W_k.T)[:, None])
    scores = (features @ w_v.T).squeeze(-1)
    return torch.softmax(scores, dim=-1) @ values
