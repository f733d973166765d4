"""The Transformer encoder–decoder for translation (Vaswani et al., 2017; d2l §11.7).

    encoder:  x = PE(√d · E_src[src]),  then N × (self-attention, FFN; each add & norm)
    decoder:  y = PE(√d · E_tgt[tgt_in]), then N × (causal self-attention, cross-attention to
              the encoder's output, FFN; each add & norm),  logits = y W_outᵀ + b

Built from :mod:`divelab.models.transformer_layers`: the hand-written layers of
:mod:`divelab.scratch.transformer` (twins of ``nn.TransformerEncoderLayer`` /
``nn.TransformerDecoderLayer``) on torch's kernels — ``nn.LayerNorm``, ``F.dropout`` and the
fused attention of :class:`divelab.models.attention.FusedMultiHeadAttention`, which runs in
``F.scaled_dot_product_attention`` unless weights are asked for.
``PE`` is the sinusoidal positional encoding of :mod:`divelab.scratch.attention`.

Masks (divelab's convention: boolean ``*_padding_mask`` True = padding, other masks True =
may attend): the source's padding is masked in the encoder's self-attention and in every
cross-attention; the decoder's self-attention is causal (position ``t`` sees ``≤ t``), which
also keeps every real target position away from the padding after it, so no target padding
mask is needed (the loss ignores the padded positions).

Embeddings are drawn from ``N(0, 1/d)`` so that ``√d · E`` has unit scale next to the
positional code. ``share_embeddings`` uses one table for source and target (a joint
vocabulary); ``tie_output`` (default) reuses the target embedding as the output projection
(Press & Wolf, 2017), which saves ``V·d`` parameters and helps small data.

Decoding (the :class:`divelab.models.seq2seq.Seq2Seq` protocol): ``encode`` runs the
encoder once; ``step`` feeds one token. With ``use_cache=True`` every decoder layer keeps
its self-attention keys and values ``(B, h, t, d_h)`` — one step longer after each call — and
its cross-attention keys and values, computed from the encoder output on the first step, so
step ``t`` costs O(t) instead of recomputing the whole prefix (O(t²) per step);
``use_cache=False`` keeps the prefix tokens instead and recomputes (for comparison).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from divelab.models.seq2seq import check_source, source_padding_mask, unpack_batch
from divelab.models.transformer_layers import DecoderLayer, EncoderLayer
from divelab.scratch.attention import PositionalEncoding


def _embedding(vocab: int, d_model: int) -> nn.Embedding:
    table = nn.Embedding(vocab, d_model)
    nn.init.normal_(table.weight, std=d_model ** -0.5)
    return table


class Transformer(nn.Module):
    """Encoder–decoder Transformer: ``num_encoder_layers`` + ``num_decoder_layers`` layers of width ``d_model``.

    ``nhead`` attention heads, FFN width ``dim_feedforward``, ``dropout`` on embeddings,
    sublayer outputs, attention weights and the FFN; ``norm_first`` pre-norm layers (with a
    final LayerNorm after each stack) instead of the paper's post-norm. ``max_len`` bounds
    the positions of the positional code.

    State of ``encode``/``step``: ``{"memory": (B, S, d), "src_padding": (B, S) bool (True =
    padding), "t": int (tokens fed so far), "caches": one dict per decoder layer}`` with
    ``use_cache``, or ``"prefix": (B, t)`` token ids without. ``step`` does not modify the
    state it is given; it returns a new one.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 256, nhead: int = 4,
                 num_encoder_layers: int = 3, num_decoder_layers: int = 3, dim_feedforward: int = 1024,
                 dropout: float = 0.1, *, norm_first: bool = False, share_embeddings: bool = False,
                 tie_output: bool = True, use_cache: bool = True, max_len: int = 1024):
        super().__init__()
        if min(src_vocab, tgt_vocab, num_encoder_layers, num_decoder_layers) < 1:
            raise ValueError("vocabularies and layer counts must be ≥ 1, got "
                             f"{src_vocab}, {tgt_vocab}, {num_encoder_layers}, {num_decoder_layers}")
        if share_embeddings and src_vocab != tgt_vocab:
            raise ValueError(f"share_embeddings needs one joint vocabulary, got sizes {src_vocab} and {tgt_vocab}")
        self.d_model, self.use_cache, self.scale = d_model, use_cache, math.sqrt(d_model)
        self.src_embedding = _embedding(src_vocab, d_model)
        self.tgt_embedding = self.src_embedding if share_embeddings else _embedding(tgt_vocab, d_model)
        self.positions = PositionalEncoding(d_model, dropout, max_len)
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(d_model, nhead, dim_feedforward, dropout, norm_first)
            for _ in range(num_encoder_layers))
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(d_model, nhead, dim_feedforward, dropout, norm_first)
            for _ in range(num_decoder_layers))
        self.encoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.decoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.output = None if tie_output else nn.Linear(d_model, tgt_vocab, bias=False)
        self.output_bias = nn.Parameter(torch.zeros(tgt_vocab))

    def _embed(self, table: nn.Embedding, ids: Tensor, offset: int = 0) -> Tensor:
        return self.positions(table(ids) * self.scale, offset=offset)             # (B, L, d)

    def _logits(self, y: Tensor) -> Tensor:
        weight = self.tgt_embedding.weight if self.output is None else self.output.weight
        return self.decoder_norm(y) @ weight.T + self.output_bias                 # (B, T, V)

    def encode(self, src: Tensor, src_len: Tensor) -> dict[str, Any]:
        check_source(src, src_len)
        padding = source_padding_mask(src_len, src.shape[1])                      # (B, S) True = padding
        x = self._embed(self.src_embedding, src)
        for layer in self.encoder_layers:
            x = layer(x, src_key_padding_mask=padding)
        state: dict[str, Any] = {"memory": self.encoder_norm(x), "src_padding": padding, "t": 0}
        if self.use_cache:
            state["caches"] = [{} for _ in self.decoder_layers]
        else:
            state["prefix"] = torch.empty(src.shape[0], 0, dtype=torch.int64, device=src.device)
        return state

    def _decode(self, tgt: Tensor, state: dict[str, Any], offset: int = 0, caches: list[dict] | None = None,
                need_weights: bool = False) -> Tensor:
        """Decoder output ``(B, T, d)`` for ``tgt`` ``(B, T)`` at positions ``offset…``, per-layer caches or none."""
        y = self._embed(self.tgt_embedding, tgt, offset)
        memory, padding = state["memory"], state["src_padding"]
        causal = tgt.shape[1] > 1  # one new token with a cache may see every cached position
        for i, layer in enumerate(self.decoder_layers):
            y = layer(y, memory, memory_key_padding_mask=padding, tgt_is_causal=causal,
                      cache=None if caches is None else caches[i], need_weights=need_weights)
        return y

    def forward(self, src: Any, src_len: Tensor | None = None, tgt_in: Tensor | None = None) -> Tensor:
        src, src_len, tgt_in = unpack_batch(src, src_len, tgt_in)
        return self._logits(self._decode(tgt_in, self.encode(src, src_len)))

    def step(self, prev: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        t = state["t"]
        if "caches" in state:
            # fresh dicts (the tensors are shared): the layers extend these, not the caller's
            caches = [{name: dict(part) for name, part in cache.items()} for cache in state["caches"]]
            y = self._decode(prev[:, None], state, offset=t, caches=caches)[:, -1]
            new = {**state, "caches": caches, "t": t + 1}
        else:
            prefix = torch.cat([state["prefix"], prev[:, None]], dim=1)            # (B, t + 1)
            y = self._decode(prefix, state)[:, -1]
            new = {**state, "prefix": prefix, "t": t + 1}
        return torch.log_softmax(self._logits(y), dim=-1), new

    @torch.no_grad()
    def attention_map(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> Tensor:
        """Cross-attention weights of every decoder layer and head, ``(B, layers, heads, T, S)``.

        Row ``t`` of a head: how much predicting target token ``t`` (after reading
        ``tgt_in[:, :t+1]``) drew on each source position; padded positions get 0.
        """
        self._decode(tgt_in, self.encode(src, src_len), need_weights=True)
        return torch.stack([layer.cross_attn_weights for layer in self.decoder_layers], dim=1)
