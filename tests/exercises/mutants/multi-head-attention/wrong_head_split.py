"""Mutant: splits the heads with a plain reshape (B, L, E) → (B, h, L, E/h), which mixes positions
across heads, and merges them back the same way."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

HINT = "mha-heads"


def multi_head_attention(query: Tensor, key: Tensor, value: Tensor, num_heads: int, in_proj_weight: Tensor,
                         in_proj_bias: Tensor | None, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
                         key_padding_mask: Tensor | None = None) -> Tensor:
    B, L, E = query.shape
    S, d = key.shape[1], E // num_heads
    w_q, w_k, w_v = in_proj_weight.chunk(3)
    b_q, b_k, b_v = in_proj_bias.chunk(3) if in_proj_bias is not None else (None, None, None)
    q = F.linear(query, w_q, b_q).reshape(B, num_heads, L, d)
    k = F.linear(key, w_k, b_k).reshape(B, num_heads, S, d)
    v = F.linear(value, w_v, b_v).reshape(B, num_heads, S, d)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    if key_padding_mask is not None:
        scores = scores.masked_fill(key_padding_mask[:, None, None, :], -math.inf)
    heads = torch.softmax(scores, dim=-1) @ v
    return F.linear(heads.reshape(B, L, E), out_proj_weight, out_proj_bias)
