"""Multi-head attention on PyTorch's fused kernel: the library side of :mod:`divelab.scratch.attention`.

:class:`FusedMultiHeadAttention` is the hand-written
:class:`~divelab.scratch.attention.MultiHeadAttention` (its projections, masks, cache and
parameters) with the attention itself, ``softmax(q kᵀ/√d + M) V``, handed to
``F.scaled_dot_product_attention`` — one fused kernel instead of a matmul, a masked softmax and
a second matmul, which is what makes the Transformer train at a useful speed. When the weights
are asked for (``need_weights=True``, for attention maps) the kernel cannot give them, and the
hand-written path runs instead. Both classes hold the same parameters, so a state dict moves
between them and they compute the same numbers (``tests/models/test_attention.py``).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from divelab.scratch.attention import Cache, MultiHeadAttention
from divelab.scratch.linear import linear


class FusedMultiHeadAttention(MultiHeadAttention):
    """:class:`~divelab.scratch.attention.MultiHeadAttention` with ``F.scaled_dot_product_attention`` inside.

    Twin: divelab.scratch.attention.MultiHeadAttention (and torch.nn.MultiheadAttention)
    """

    def attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float,
               need_weights: bool) -> tuple[Tensor, Tensor | None]:
        """``F.scaled_dot_product_attention(q, k, v, mask, dropout_p)`` and no weights; the
        hand-written path when ``need_weights`` (the fused kernel does not return them)."""
        if need_weights:
            return super().attend(q, k, v, mask, dropout_p, need_weights)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p), None

    def forward(self, query: Tensor, key: Tensor | None, value: Tensor | None,
                key_padding_mask: Tensor | None = None, attn_mask: Tensor | None = None,
                need_weights: bool = False, cache: Cache | None = None, *,
                average_attn_weights: bool = True, is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """As :meth:`MultiHeadAttention.forward`; plain causal self-attention (``is_causal`` and no
        other mask, cache or weights) goes to the kernel's own causal path, which needs no mask
        tensor and skips the blocks above the diagonal (about twice as fast to train on a CPU)."""
        plain_causal = (is_causal and attn_mask is None and key_padding_mask is None and cache is None
                        and not need_weights and key is query and value is query and query.dim() == 3
                        and query.shape[-1] == self.embed_dim)
        if not plain_causal:
            return super().forward(query, key, value, key_padding_mask, attn_mask, need_weights, cache,
                                   average_attn_weights=average_attn_weights, is_causal=is_causal)
        B, L, E = query.shape
        q, k, v = self._qkv(query, key, value, None)                     # (B, h, L, d) each
        heads = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                               is_causal=True)
        return linear(heads.transpose(1, 2).reshape(B, L, E), self.out_proj.weight, self.out_proj.bias), None
