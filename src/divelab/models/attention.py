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

from divelab.scratch.attention import MultiHeadAttention


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
