"""Chapter 7's solutions with the exercises' signatures: the project's attention layers and
beam-search step called as functions of their inputs and weights."""

from __future__ import annotations

from torch import Tensor
from torch.func import functional_call

from divelab.eval.decode import _expand
from divelab.scratch.attention import AdditiveAttention, MultiHeadAttention


def additive_attention(queries: Tensor, keys: Tensor, values: Tensor, W_q: Tensor, W_k: Tensor, w_v: Tensor,
                       valid_len: Tensor | None = None) -> Tensor:
    """:class:`AdditiveAttention` (no dropout) with the given weights in place of its parameters."""
    layer = AdditiveAttention(key_size=W_k.shape[1], query_size=W_q.shape[1], num_hiddens=W_q.shape[0])
    return functional_call(layer, {"W_q": W_q, "W_k": W_k, "w_v": w_v}, (queries, keys, values, valid_len))


def multi_head_attention(query: Tensor, key: Tensor, value: Tensor, num_heads: int, in_proj_weight: Tensor,
                         in_proj_bias: Tensor | None, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
                         key_padding_mask: Tensor | None = None) -> Tensor:
    """:class:`MultiHeadAttention` (no dropout) with the given weights; a None bias counts as zeros."""
    E = in_proj_weight.shape[1]
    layer = MultiHeadAttention(E, num_heads)
    zeros = in_proj_weight.new_zeros
    weights = {"in_proj_weight": in_proj_weight,
               "in_proj_bias": zeros(3 * E) if in_proj_bias is None else in_proj_bias,
               "out_proj.weight": out_proj_weight,
               "out_proj.bias": zeros(E) if out_proj_bias is None else out_proj_bias}
    out, _ = functional_call(layer, weights, (query, key, value), {"key_padding_mask": key_padding_mask})
    return out


def beam_search_step(beam_log_probs: Tensor, log_probs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Beam search's expansion step (:func:`divelab.eval.decode._expand`) on ``(B, k, V)`` log-probabilities."""
    B, k, V = log_probs.shape
    return _expand(beam_log_probs, log_probs.reshape(B * k, V), k)
