"""Mutant: scales the scores by 1/√E (the model width) instead of 1/√(E/h) (one head's width)."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

HINT = "mha-heads"


def multi_head_attention(query: Tensor, key: Tensor, value: Tensor, num_heads: int, in_proj_weight: Tensor,
                         in_proj_bias: Tensor | None, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
                         key_padding_mask: Tensor | None = None) -> Tensor:
    B, L, E = query.shape
    d = E // num_heads
    w_q, w_k, w_v = in_proj_weight.chunk(3)
    b_q, b_k, b_v = in_proj_bias.chunk(3) if in_proj_bias is not None else (None, None, None)

    def heads(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        return F.linear(x, w, b).reshape(B, x.shape[1], num_heads, d).transpose(1, 2)

    q, k, v = heads(query, w_q, b_q), heads(key, w_k, b_k), heads(value, w_v, b_v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(E)
    if key_padding_mask is not None:
        scores = scores.masked_fill(key_padding_mask[:, None, None, :], -math.inf)
    heads_out = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, L, E)
    return F.linear(heads_out, out_proj_weight, out_proj_bias)
