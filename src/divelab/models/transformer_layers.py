"""Transformer layers on PyTorch's fused pieces: the library side of :mod:`divelab.scratch.transformer`.

:class:`EncoderLayer` and :class:`DecoderLayer` are the hand-written layers (their sublayer
order, masks, cache and parameters) with each piece handed to torch: ``nn.LayerNorm`` for the
normalisations, ``F.dropout``, ``nn.Linear`` + ``F.relu`` in the feed-forward network, and
:class:`~divelab.models.attention.FusedMultiHeadAttention` for the attention. The hand-written
layer norm is eight elementwise kernels forward and as many backward; ``F.layer_norm`` is one
each way, which made the translation Transformer train 1.27× faster on 2 CPU cores
(``benchmarks/transformer_layers.py``).

Same parameter names, shapes and initialisation (drawn in the same order) as the scratch
layers, so a state dict moves between them and they compute the same outputs and gradients
(``tests/models/test_transformer_layers.py``). Only dropout differs: its masks come from
``bernoulli_`` instead of ``uniform < 1 − p``, so with dropout the two draw different masks.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from divelab.models.attention import FusedMultiHeadAttention
from divelab.scratch import transformer as scratch


class _TorchPieces(scratch._LayerBase):
    """Dropout and the feed-forward network in torch's kernels; layer norms built as ``nn.LayerNorm``,
    attention as :class:`FusedMultiHeadAttention` (both scratch layers take the same arguments)."""

    norm_layer = nn.LayerNorm

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.0,
                 norm_first: bool = False, layer_norm_eps: float = 1e-5) -> None:
        super().__init__(d_model, nhead, dim_feedforward, dropout, norm_first, layer_norm_eps,  # type: ignore[call-arg]
                         attention_layer=FusedMultiHeadAttention)

    def _drop(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.dropout, self.training)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self._drop(self.linear2(self._drop(F.relu(self.linear1(x)))))


class EncoderLayer(_TorchPieces, scratch.TransformerEncoderLayer):
    """:class:`divelab.scratch.transformer.TransformerEncoderLayer` on torch's kernels.

    Twin: divelab.scratch.transformer.TransformerEncoderLayer (and torch.nn.TransformerEncoderLayer)
    """


class DecoderLayer(_TorchPieces, scratch.TransformerDecoderLayer):
    """:class:`divelab.scratch.transformer.TransformerDecoderLayer` on torch's kernels.

    Twin: divelab.scratch.transformer.TransformerDecoderLayer (and torch.nn.TransformerDecoderLayer)
    """
