"""Transformer encoder and decoder layers written by hand on :class:`MultiHeadAttention`.

A layer is attention, then a position-wise feed-forward network, each wrapped in a
residual connection and layer normalisation ("add & norm"):

    post-norm (``norm_first=False``, the original paper):  x ← LN(x + sublayer(x))
    pre-norm  (``norm_first=True``, easier to train deep):  x ← x + sublayer(LN(x))

The decoder layer has three sublayers: masked self-attention over the target prefix,
cross-attention from the target to the encoder's output (``memory``), and the FFN.

Parameter names and initialisation follow ``nn.TransformerEncoderLayer`` /
``nn.TransformerDecoderLayer`` (activation ReLU, ``layer_norm_eps`` 1e-5), so
``load_state_dict(torch_layer.state_dict())`` copies a torch layer (``batch_first=True``)
and both give the same outputs. Masks follow divelab's convention (see
:mod:`divelab.scratch.attention`): boolean ``*_mask`` True = may attend, ``*_key_padding_mask``
True = padding. (torch's layers read a boolean ``src_mask``/``tgt_mask`` the other way round.)

``attention_layer`` says which attention class the layers build: the hand-written
:class:`~divelab.scratch.attention.MultiHeadAttention` by default, or a subclass with the same
parameters — :class:`divelab.models.attention.FusedMultiHeadAttention` is the library side,
which the :class:`divelab.models.transformer.Transformer` uses.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from divelab.scratch.activations import relu
from divelab.scratch.attention import Cache, MultiHeadAttention
from divelab.scratch.dropout import dropout as scratch_dropout
from divelab.scratch.linear import linear


def layer_norm(x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float = 1e-5) -> Tensor:
    """Normalise each vector along the last axis, then scale and shift.

    ``y = γ (x − μ) / √(σ² + ε) + β`` with ``μ = mean(x)``, ``σ² = mean((x − μ)²)`` (biased)
    over the last axis of size ``d``; ``γ``, ``β`` of shape ``(d,)``.

    Twin: torch.nn.functional.layer_norm(x, (d,), weight, bias, eps)
    """
    mean = x.mean(dim=-1, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dim=-1, keepdim=True)
    y = centred * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


class LayerNorm(nn.Module):
    """Layer normalisation on :func:`layer_norm` with ``γ = 1``, ``β = 0`` to start. Twin: torch.nn.LayerNorm"""

    def __init__(self, d: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class _LayerBase(nn.Module):
    """What both layers share: the FFN ``W₂ dropout(relu(W₁ x + b₁)) + b₂``, dropout on each sublayer's output.

    ``norm_layer`` is the class the layer normalisations are built from (:class:`LayerNorm` here;
    the library side, :mod:`divelab.models.transformer_layers`, swaps in ``nn.LayerNorm``).
    """

    norm_layer: ClassVar[type[nn.Module]] = LayerNorm
    linear1: nn.Linear
    linear2: nn.Linear

    def _check(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float) -> None:
        if d_model < 1 or nhead < 1 or d_model % nhead or dim_feedforward < 1:
            raise ValueError(f"need d_model a positive multiple of nhead and dim_feedforward ≥ 1, got "
                             f"d_model={d_model}, nhead={nhead}, dim_feedforward={dim_feedforward}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be between 0 and 1, got {dropout}")

    def _drop(self, x: Tensor) -> Tensor:
        return scratch_dropout(x, self.dropout, self.training)

    def _ff_block(self, x: Tensor) -> Tensor:
        hidden = relu(linear(x, self.linear1.weight, self.linear1.bias))            # (B, L, dim_feedforward)
        return self._drop(linear(self._drop(hidden), self.linear2.weight, self.linear2.bias))


class TransformerEncoderLayer(_LayerBase):
    """Self-attention and FFN, each with add & norm.

    post-norm: ``x ← LN₁(x + SA(x))``, ``x ← LN₂(x + FFN(x))``;
    pre-norm:  ``x ← x + SA(LN₁(x))``, ``x ← x + FFN(LN₂(x))``.
    ``src`` ``(B, L, d_model)``; ``src_mask`` ``(L, L)`` or ``(B·nhead, L, L)``, boolean True =
    may attend, or float (added); ``src_key_padding_mask`` ``(B, L)`` True = padding.
    ``need_weights=True`` keeps the per-head weights ``(B, h, L, L)`` in ``self_attn_weights``.

    Twin: torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True,
    norm_first=norm_first) (activation relu)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.0,
                 norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 attention_layer: type[MultiHeadAttention] = MultiHeadAttention) -> None:
        super().__init__()
        self._check(d_model, nhead, dim_feedforward, dropout)
        # built in nn.TransformerEncoderLayer's order, so one seed draws the same weights
        self.self_attn = attention_layer(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = self.norm_layer(d_model, layer_norm_eps), self.norm_layer(d_model, layer_norm_eps)
        self.dropout, self.norm_first = dropout, norm_first
        self.self_attn_weights: Tensor | None = None

    def _sa_block(self, x: Tensor, mask: Tensor | None, padding: Tensor | None, is_causal: bool,
                  need_weights: bool) -> Tensor:
        out, weights = self.self_attn(x, x, x, key_padding_mask=padding, attn_mask=mask, need_weights=need_weights,
                                      average_attn_weights=False, is_causal=is_causal)
        self.self_attn_weights = weights
        return self._drop(out)

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False, need_weights: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal, need_weights)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal, need_weights))
        return self.norm2(x + self._ff_block(x))


class TransformerDecoderLayer(_LayerBase):
    """Masked self-attention, cross-attention to the encoder's output, FFN, each with add & norm.

    post-norm: ``x ← LN₁(x + SA(x))``, ``x ← LN₂(x + CA(x, memory))``, ``x ← LN₃(x + FFN(x))``;
    pre-norm:  ``x ← x + SA(LN₁(x))``, ``x ← x + CA(LN₂(x), memory)``, ``x ← x + FFN(LN₃(x))``
    (``memory`` is not normalised here: the encoder's final norm does that).
    ``tgt`` ``(B, T, d_model)``, ``memory`` ``(B, S, d_model)``; ``tgt_mask`` ``(T, T)`` and
    ``memory_mask`` ``(T, S)`` boolean True = may attend, or float (added);
    ``*_key_padding_mask`` ``(B, ·)`` True = padding; ``tgt_is_causal=True`` builds the
    causal mask (aligned to the end, so it is right with a cache too).

    Incremental decoding: pass the same dict as ``cache`` at every step (``{}`` to start)
    with ``tgt`` the new step(s) only. ``cache["self"]`` then holds the self-attention's
    keys/values ``(B, h, t, d)``, one step longer after each call, and ``cache["cross"]``
    the cross-attention's, computed from ``memory`` on the first call and reused (so
    ``memory`` may be None later). Every tensor in the cache has the batch first, so beams
    reorder it with ``index_select(0, ·)``. ``need_weights=True`` keeps the per-head weights
    in ``self_attn_weights`` ``(B, h, T, t)`` and ``cross_attn_weights`` ``(B, h, T, S)``.

    Twin: torch.nn.TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True,
    norm_first=norm_first) (activation relu)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float = 0.0,
                 norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 attention_layer: type[MultiHeadAttention] = MultiHeadAttention) -> None:
        super().__init__()
        self._check(d_model, nhead, dim_feedforward, dropout)
        self.self_attn = attention_layer(d_model, nhead, dropout=dropout)
        self.multihead_attn = attention_layer(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2, self.norm3 = (self.norm_layer(d_model, layer_norm_eps) for _ in range(3))
        self.dropout, self.norm_first = dropout, norm_first
        self.self_attn_weights: Tensor | None = None
        self.cross_attn_weights: Tensor | None = None

    def _sa_block(self, x: Tensor, mask: Tensor | None, padding: Tensor | None, is_causal: bool,
                  cache: Cache | None, need_weights: bool) -> Tensor:
        out, self.self_attn_weights = self.self_attn(x, x, x, key_padding_mask=padding, attn_mask=mask,
                                                     need_weights=need_weights, cache=cache,
                                                     average_attn_weights=False, is_causal=is_causal)
        return self._drop(out)

    def _mha_block(self, x: Tensor, memory: Tensor | None, mask: Tensor | None, padding: Tensor | None,
                   cache: Cache | None, need_weights: bool) -> Tensor:
        out, self.cross_attn_weights = self.multihead_attn(x, memory, memory, key_padding_mask=padding,
                                                           attn_mask=mask, need_weights=need_weights, cache=cache,
                                                           average_attn_weights=False)
        return self._drop(out)

    def forward(self, tgt: Tensor, memory: Tensor | None, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                cache: dict[str, Any] | None = None, need_weights: bool = False) -> Tensor:
        self_cache = cross_cache = None
        if cache is not None:
            self_cache = cache.setdefault("self", {})
            cross_cache = cache.setdefault("cross", {"static": True})
        x = tgt
        self_args = (tgt_mask, tgt_key_padding_mask, tgt_is_causal, self_cache, need_weights)
        cross_args = (memory_mask, memory_key_padding_mask, cross_cache, need_weights)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), *self_args)
            x = x + self._mha_block(self.norm2(x), memory, *cross_args)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, *self_args))
        x = self.norm2(x + self._mha_block(x, memory, *cross_args))
        return self.norm3(x + self._ff_block(x))
