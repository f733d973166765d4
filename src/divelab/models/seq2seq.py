"""Encoder–decoder translation models on recurrent layers (d2l §10.6–10.7, §11.4).

Every translation model of divelab (these two and :class:`divelab.models.transformer.Transformer`)
implements the :class:`Seq2Seq` protocol:

- ``forward(src, src_len, tgt_in) -> logits (B, T, V)``: teacher forcing — the decoder reads
  the gold target shifted right (``tgt_in`` = bos + tokens) and predicts every next token at
  once (``tgt_out`` = tokens + eos). The Trainer passes its batch ``x`` as one argument, so
  ``forward((src, src_len, tgt_in))`` works too.
- ``encode(src, src_len) -> state`` and ``step(prev, state) -> (log_probs (B, V), state)``:
  one target token at a time, for :mod:`divelab.eval.decode` (greedy and beam search). Every
  tensor in ``state`` has the batch first, so the decoder can reorder it for its beams.

``step`` fed the gold prefix gives exactly the log-softmax of ``forward``'s logits (tested).

:class:`GRUSeq2Seq` (d2l's ``Seq2Seq``): a GRU encoder reads the source; its final state
initialises the GRU decoder, and its top layer's final state ``c`` (the "context") is
concatenated with the embedding of every target token the decoder reads:

    h_t = GRU([e(y_{t−1}); c], h_{t−1}),   p(y_t | y_<t, x) = softmax(W h_t^{top} + b)

:class:`AttentionSeq2Seq` (Bahdanau et al., 2015; d2l's ``Seq2SeqAttentionDecoder``): the
context is recomputed at every step by additive attention, with the decoder's previous top
state as the query and the encoder's outputs as keys and values (source padding masked):

    c_t = Σ_j α_tj o_j,   α_t = masked_softmax(w_vᵀ tanh(W_q h_{t−1}^{top} + W_k o_j)),
    h_t = GRU([c_t; e(y_{t−1})], h_{t−1})

Both encoders pack the padded source (``pack_padded_sequence``), so each sentence's final
state is the one at its own last token and the padding changes nothing.

The loss is :func:`masked_cross_entropy`: the mean over the valid (non-padding) target
tokens of the cross-entropy, with optional label smoothing; :class:`TranslationLoss`, which
the experiments train with, computes the same in ``F.cross_entropy``'s fused kernel.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from divelab.scratch.attention import AdditiveAttention, masked_softmax
from divelab.scratch.linear import linear

Batch = tuple[Tensor, Tensor, Tensor]  # (src (B, S), src_len (B,), tgt_in (B, T))


@runtime_checkable
class Seq2Seq(Protocol):
    """The interface of a translation model: teacher-forced ``forward`` plus ``encode``/``step`` for decoding.

    ``encode(src (B, S) int64, src_len (B,) int64) -> state``: any nest of dicts, lists and
    tuples whose tensor leaves have the batch first (and non-tensor leaves such as ints).
    ``step(prev (B,) int64, state) -> (log_probs (B, V), state)``: the log-probabilities of
    the next target token after ``prev``.
    """

    def forward(self, src: Any, src_len: Tensor | None = None, tgt_in: Tensor | None = None) -> Tensor: ...

    def encode(self, src: Tensor, src_len: Tensor) -> Any: ...

    def step(self, prev: Tensor, state: Any) -> tuple[Tensor, Any]: ...


def unpack_batch(src: Any, src_len: Tensor | None, tgt_in: Tensor | None) -> Batch:
    """``forward``'s arguments as ``(src, src_len, tgt_in)``, given separately or as one tuple (the Trainer's ``x``)."""
    if isinstance(src, (tuple, list)):
        if src_len is not None or tgt_in is not None or len(src) != 3:
            raise ValueError("pass either (src, src_len, tgt_in) as one tuple or as three arguments")
        src, src_len, tgt_in = src
    if src_len is None or tgt_in is None:
        raise ValueError("forward needs src, src_len and tgt_in")
    return src, src_len, tgt_in


def check_source(src: Tensor, src_len: Tensor) -> None:
    """``src`` (B, S) integer ids with ``1 ≤ src_len[b] ≤ S`` (a ValueError otherwise)."""
    if src.dim() != 2 or src.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"src must be (batch, steps) integer ids, got {tuple(src.shape)} {src.dtype}")
    if src_len.shape != src.shape[:1]:
        raise ValueError(f"src_len must have shape ({src.shape[0]},), got {tuple(src_len.shape)}")
    if src_len.numel() and (int(src_len.min()) < 1 or int(src_len.max()) > src.shape[1]):
        raise ValueError(f"src_len must lie between 1 and {src.shape[1]}, got {src_len.min()}…{src_len.max()}")


def source_padding_mask(src_len: Tensor, steps: int) -> Tensor:
    """``(B, S)`` boolean, **True at padding** (positions ``j ≥ src_len[b]``), torch's ``key_padding_mask``."""
    return torch.arange(steps, device=src_len.device) >= src_len[:, None]


def masked_cross_entropy(logits: Tensor, target: Tensor, pad_id: int, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy over the target tokens that are not padding, with label smoothing ε.

    For each valid position (``target ≠ pad_id``) with log-probabilities ``ℓ = log_softmax(z)``
    over ``V`` classes: ``loss = −(1 − ε) ℓ_y − ε/V Σ_v ℓ_v`` (the target distribution puts
    ``1 − ε + ε/V`` on ``y`` and ``ε/V`` on every other class); the result is the mean over
    valid positions (0 when there is none). ``logits`` ``(…, V)``, ``target`` ``(…)`` int64.

    Twin: torch.nn.functional.cross_entropy(logits.reshape(-1, V), target.reshape(-1),
    ignore_index=pad_id, label_smoothing=ε)
    """
    if logits.shape[:-1] != target.shape:
        raise ValueError(f"logits (…, V) and target (…) disagree: {tuple(logits.shape)} vs {tuple(target.shape)}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0 and 1, got {label_smoothing}")
    log_probs = torch.log_softmax(logits, dim=-1)                                  # (…, V)
    valid = target != pad_id                                                       # (…)
    nll = -log_probs.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)      # (…)
    loss = (1.0 - label_smoothing) * nll - label_smoothing * log_probs.mean(dim=-1)
    count = valid.sum()
    return (loss * valid).sum() / count.clamp(min=1)


class TranslationLoss:
    """The Trainer's ``loss_fn(logits, tgt_out)``: :func:`masked_cross_entropy` with a fixed padding id and ε,
    in ``F.cross_entropy`` (summed over the valid tokens, divided by their count: 0 when there is none).

    ``terms(tgt_out)`` tells the Trainer that the loss is a mean over the batch's non-padding
    tokens, so it weights batches (and data-parallel shards) by their tokens, not sentences.
    """

    def __init__(self, pad_id: int, label_smoothing: float = 0.0):
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be between 0 and 1, got {label_smoothing}")
        self.pad_id, self.label_smoothing = pad_id, label_smoothing

    def __call__(self, logits: Tensor, target: Tensor) -> Tensor:
        if logits.shape[:-1] != target.shape:
            raise ValueError(f"logits (…, V) and target (…) disagree: {tuple(logits.shape)} vs {tuple(target.shape)}")
        total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=self.pad_id,
                                label_smoothing=self.label_smoothing, reduction="sum")
        return total / self.terms(target).clamp(min=1)

    def terms(self, target: Tensor) -> Tensor:
        """The number of tokens the loss averages: ``Σ [target ≠ pad_id]`` (a 0-dim device tensor: no sync)."""
        return (target != self.pad_id).sum()


class GRUEncoder(nn.Module):
    """Embedding (with dropout) and a stacked GRU over the packed source.

    Returns the top layer's outputs ``(B, S, H)`` (0 at padding) and each layer's state at
    the sentence's last token ``(B, L, H)``.
    """

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, batch_first=True,
                          dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src: Tensor, src_len: Tensor) -> tuple[Tensor, Tensor]:
        check_source(src, src_len)
        emb = self.dropout(self.embedding(src))                                    # (B, S, E)
        packed = pack_padded_sequence(emb, src_len.cpu(), batch_first=True, enforce_sorted=False)
        outputs, hidden = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])  # (B, S, H)
        return outputs, hidden.transpose(0, 1)                                     # (L, B, H) → (B, L, H)


def _check_sizes(**sizes: int) -> None:
    bad = {k: v for k, v in sizes.items() if v < 1}
    if bad:
        raise ValueError(f"sizes must be ≥ 1, got {bad}")


class GRUSeq2Seq(nn.Module):
    """d2l's GRU encoder–decoder; the decoder reads ``[e(y_{t−1}); c]`` with ``c`` the encoder's final top state.

    Sizes: vocabularies ``src_vocab``/``tgt_vocab``, embeddings ``embed_size``, GRU state
    ``num_hiddens`` in ``num_layers`` layers (``dropout`` between layers, and on the
    embeddings). Decoding state: ``{"hidden": (B, L, H), "context": (B, H)}``.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, embed_size: int = 256, num_hiddens: int = 256,
                 num_layers: int = 2, dropout: float = 0.0):
        super().__init__()
        _check_sizes(src_vocab=src_vocab, tgt_vocab=tgt_vocab, embed_size=embed_size, num_hiddens=num_hiddens,
                     num_layers=num_layers)
        self.encoder = GRUEncoder(src_vocab, embed_size, num_hiddens, num_layers, dropout)
        self.tgt_embedding = nn.Embedding(tgt_vocab, embed_size)
        self.decoder = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, batch_first=True,
                              dropout=dropout if num_layers > 1 else 0.0)
        self.output = nn.Linear(num_hiddens, tgt_vocab)
        self.dropout = nn.Dropout(dropout)

    def encode(self, src: Tensor, src_len: Tensor) -> dict[str, Tensor]:
        _, hidden = self.encoder(src, src_len)                                     # (B, L, H)
        return {"hidden": hidden, "context": hidden[:, -1]}

    def _decode(self, tgt: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """Run the decoder over ``tgt`` (B, T) from ``state``: logits (B, T, V) and the new state."""
        emb = self.dropout(self.tgt_embedding(tgt))                                # (B, T, E)
        context = state["context"][:, None].expand(-1, tgt.shape[1], -1)           # (B, T, H)
        out, hidden = self.decoder(torch.cat([emb, context], dim=-1), state["hidden"].transpose(0, 1).contiguous())
        return self.output(out), {"hidden": hidden.transpose(0, 1), "context": state["context"]}

    def forward(self, src: Any, src_len: Tensor | None = None, tgt_in: Tensor | None = None) -> Tensor:
        src, src_len, tgt_in = unpack_batch(src, src_len, tgt_in)
        return self._decode(tgt_in, self.encode(src, src_len))[0]

    def step(self, prev: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        logits, state = self._decode(prev[:, None], state)
        return torch.log_softmax(logits[:, 0], dim=-1), state


class AttentionSeq2Seq(nn.Module):
    """GRU encoder and a GRU decoder with Bahdanau (additive) attention over the encoder outputs.

    The attention is :class:`divelab.scratch.attention.AdditiveAttention` (``W_q``, ``W_k``,
    ``w_v``); the keys' projections ``W_k o_j`` are computed once per sentence (in
    ``encode``) rather than at every step. Decoding state: ``{"memory": (B, S, H), "keys":
    (B, S, H), "src_len": (B,), "hidden": (B, L, H)}``. ``attention_weights`` holds the
    last ``forward``'s weights ``(B, T, S)`` (or the last ``step``'s ``(B, 1, S)``).
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, embed_size: int = 256, num_hiddens: int = 256,
                 num_layers: int = 2, dropout: float = 0.0):
        super().__init__()
        _check_sizes(src_vocab=src_vocab, tgt_vocab=tgt_vocab, embed_size=embed_size, num_hiddens=num_hiddens,
                     num_layers=num_layers)
        self.encoder = GRUEncoder(src_vocab, embed_size, num_hiddens, num_layers, dropout)
        self.attention = AdditiveAttention(num_hiddens, num_hiddens, num_hiddens)
        self.tgt_embedding = nn.Embedding(tgt_vocab, embed_size)
        self.decoder = nn.GRU(num_hiddens + embed_size, num_hiddens, num_layers, batch_first=True,
                              dropout=dropout if num_layers > 1 else 0.0)
        self.output = nn.Linear(num_hiddens, tgt_vocab)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights: Tensor | None = None

    def encode(self, src: Tensor, src_len: Tensor) -> dict[str, Tensor]:
        memory, hidden = self.encoder(src, src_len)                                # (B, S, H), (B, L, H)
        return {"memory": memory, "keys": linear(memory, self.attention.W_k), "src_len": src_len, "hidden": hidden}

    def _attend(self, query: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Context ``(B, H)`` and weights ``(B, S)`` for the query ``(B, H)``: AdditiveAttention, keys cached."""
        features = torch.tanh(linear(query, self.attention.W_q)[:, None] + state["keys"])  # (B, S, H)
        scores = linear(features, self.attention.w_v).squeeze(-1)                  # (B, S)
        weights = masked_softmax(scores, state["src_len"])                         # (B, S)
        return (weights[:, None] @ state["memory"]).squeeze(1), weights

    def _one_step(self, prev: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Top output ``(B, H)``, attention weights ``(B, S)`` and the state after reading ``prev`` (B,)."""
        hidden = state["hidden"]                                                   # (B, L, H)
        context, weights = self._attend(hidden[:, -1], state)
        x = torch.cat([context, self.dropout(self.tgt_embedding(prev))], dim=-1)   # (B, H + E)
        out, hidden = self.decoder(x[:, None], hidden.transpose(0, 1).contiguous())
        return out[:, 0], weights, {**state, "hidden": hidden.transpose(0, 1)}

    def forward(self, src: Any, src_len: Tensor | None = None, tgt_in: Tensor | None = None) -> Tensor:
        src, src_len, tgt_in = unpack_batch(src, src_len, tgt_in)
        state = self.encode(src, src_len)
        outputs, weights = [], []
        for t in range(tgt_in.shape[1]):
            out, w, state = self._one_step(tgt_in[:, t], state)
            outputs.append(out)
            weights.append(w.detach())
        self.attention_weights = torch.stack(weights, dim=1)                      # (B, T, S)
        return self.output(torch.stack(outputs, dim=1))                           # (B, T, V)

    def step(self, prev: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        out, weights, state = self._one_step(prev, state)
        self.attention_weights = weights[:, None].detach()
        return torch.log_softmax(self.output(out), dim=-1), state

    @torch.no_grad()
    def attention_map(self, src: Tensor, src_len: Tensor, tgt_in: Tensor) -> Tensor:
        """The attention weights ``(B, T, S)`` of the decoder reading ``tgt_in``.

        Row ``t``: how much predicting target token ``t`` drew on each source position (0 at padding).
        """
        self.forward(src, src_len, tgt_in)
        assert self.attention_weights is not None
        return self.attention_weights
