"""Sequence taggers: one tag per word, e.g. BIO slot tags for "arrive taipei on november 2nd".

Each tagger maps word ids ``x`` (B, T), padded at the end with ``pad_id``, to tag logits
(B, T, num_tags); positions past a sentence's end get logits too, which the loss ignores
(:func:`tagging_loss`). The true lengths are read off the padding.

- :class:`RNNTagger`: embedding → ``nn.RNN``/``nn.GRU``/``nn.LSTM`` (uni- or bidirectional)
  → linear. The sequences are packed, so the backward direction starts at each sentence's
  own last word, not at the padding.
- :class:`ElmanRNN` and :class:`JordanRNN`: the two classic simple recurrent networks,
  written out step by step. Elman feeds back the hidden state, Jordan the output.

All three share :class:`TokenEmbedding`, which can apply *word dropout*: while training,
each real word is replaced by ``<unk>`` with probability ``word_dropout`` (one rate, or one
per word id, e.g. :func:`frequency_dropout`), so the model learns what to do with a word it
has never seen — the situation of every unseen city name at test time — from the context
around it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

Cell = Literal["rnn", "gru", "lstm"]
RNN_LAYERS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def tagging_loss(logits: Tensor, tags: Tensor, ignore_index: int = -100) -> Tensor:
    """Mean cross-entropy over the valid positions: ``tags == ignore_index`` marks padding.

    ``logits`` (B, T, C), ``tags`` (B, T) → a scalar, ``−(1/N) Σ_{valid (b,t)} log softmax(logits_bt)[tags_bt]``.
    """
    return F.cross_entropy(logits.flatten(0, 1), tags.flatten(), ignore_index=ignore_index)


def word_dropout(x: Tensor, p: float | Tensor, unk_id: int, pad_id: int) -> Tensor:
    """``x`` with each non-padding id replaced by ``unk_id`` with probability ``p`` (torch's global RNG).

    ``p`` is one rate for every word, or a tensor of rates per word id (see :func:`frequency_dropout`).
    """
    if isinstance(p, float | int) and p == 0:
        return x
    rate = p[x] if isinstance(p, Tensor) else p
    drop = (torch.rand(x.shape, device=x.device) < rate) & (x != pad_id)
    return x.masked_fill(drop, unk_id)


def frequency_dropout(counts: Sequence[int] | Tensor, alpha: float) -> Tensor:
    """Per-word dropout rates ``p(w) = α / (α + count(w))`` (Kiperwasser & Goldberg, 2016): rare
    words are replaced by ``<unk>`` often, frequent ones almost never, so what ``<unk>`` learns to
    stand for is a *rare* word — in a travel request, mostly a city name — as unseen words are.
    Words never counted (``<unk>``, ``<pad>``) get rate 0."""
    if alpha < 0:
        raise ValueError(f"alpha must be ≥ 0, got {alpha}")
    counts = torch.as_tensor(counts, dtype=torch.float32)
    # a word never counted (<unk>, <pad>) is left alone
    return torch.where(counts > 0, alpha / (alpha + counts), 0.0)


class TokenEmbedding(nn.Module):
    """Word ids (B, T) → embeddings (B, T, E) and true lengths (B,), with word dropout in training."""

    def __init__(self, vocab_size: int, embed_size: int, *, pad_id: int = 1, unk_id: int = 0,
                 word_dropout: float | Tensor = 0.0):
        super().__init__()
        rates = torch.as_tensor(word_dropout, dtype=torch.float32)
        if rates.dim() > 1 or (rates.dim() == 1 and len(rates) != vocab_size):
            raise ValueError(f"word_dropout must be a number or one rate per word ({vocab_size}), "
                             f"got shape {tuple(rates.shape)}")
        if not bool(((rates >= 0) & (rates < 1)).all()):
            raise ValueError(f"word_dropout rates must be in [0, 1), got {word_dropout}")
        if not (0 <= pad_id < vocab_size and 0 <= unk_id < vocab_size):
            raise ValueError(f"pad_id {pad_id} and unk_id {unk_id} must be ids below vocab_size {vocab_size}")
        self.pad_id, self.unk_id = pad_id, unk_id
        self.word_dropout: float | Tensor
        if rates.dim() == 1:
            self.register_buffer("word_dropout", rates)
        else:
            self.word_dropout = float(rates)
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() != 2:
            raise ValueError(f"expected word ids of shape (batch, time), got {tuple(x.shape)}")
        lengths = (x != self.pad_id).sum(1)
        if bool((lengths == 0).any()):
            raise ValueError("a sentence in the batch is empty (all padding)")
        if self.training:
            x = word_dropout(x, self.word_dropout, self.unk_id, self.pad_id)
        return self.embedding(x), lengths


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if value < 1:
            raise ValueError(f"{name} must be ≥ 1, got {value}")


class RNNTagger(nn.Module):
    """Embedding → recurrent layer(s) ``cell`` → linear, with PyTorch's recurrent layers.

    With ``bidirectional`` the tag of word t sees the whole sentence:
    ``logits_t = W [h→_t ; h←_t] + c`` (forward and backward states concatenated).
    """

    def __init__(self, vocab_size: int, num_tags: int, cell: Cell = "gru", embed_size: int = 64,
                 hidden_size: int = 64, bidirectional: bool = True, *, num_layers: int = 1, pad_id: int = 1,
                 unk_id: int = 0, word_dropout: float | Tensor = 0.0):
        super().__init__()
        if cell not in RNN_LAYERS:
            raise ValueError(f"cell must be one of {sorted(RNN_LAYERS)}, got {cell!r}")
        _check_sizes(vocab_size=vocab_size, num_tags=num_tags, embed_size=embed_size, hidden_size=hidden_size,
                     num_layers=num_layers)
        self.embed = TokenEmbedding(vocab_size, embed_size, pad_id=pad_id, unk_id=unk_id, word_dropout=word_dropout)
        self.rnn = RNN_LAYERS[cell](embed_size, hidden_size, num_layers, batch_first=True,
                                    bidirectional=bidirectional)
        self.out = nn.Linear(hidden_size * (2 if bidirectional else 1), num_tags)

    def forward(self, x: Tensor) -> Tensor:
        e, lengths = self.embed(x)  # (B, T, E), (B,)
        packed = pack_padded_sequence(e, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = self.rnn(packed)
        h, _ = pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])  # (B, T, D·H), zeros past the end
        return self.out(h)  # (B, T, num_tags)


def _init_like_torch_rnn(module: nn.Module, hidden_size: int) -> None:
    """Every parameter ~ U(−1/√H, 1/√H), as ``nn.RNN`` initialises its weights."""
    bound = 1 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


class ElmanRNN(nn.Module):
    """Elman network tagger: the hidden state is fed back.

    ``h_t = tanh(W_x x_t + W_h h_{t−1} + b)``, ``h_0 = 0``, ``logits_t = W_o h_t + c``, with
    ``x_t`` the embedding of word t. One direction, left to right; padding comes after the
    words, so it cannot reach them. Twin: ``nn.RNN`` (tanh) with ``weight_ih_l0 = W_x``,
    ``bias_ih_l0 = b``, ``weight_hh_l0 = W_h``, ``bias_hh_l0 = 0`` (see :meth:`recurrence`).
    """

    def __init__(self, vocab_size: int, num_tags: int, embed_size: int = 64, hidden_size: int = 64, *,
                 pad_id: int = 1, unk_id: int = 0, word_dropout: float | Tensor = 0.0):
        super().__init__()
        _check_sizes(vocab_size=vocab_size, num_tags=num_tags, embed_size=embed_size, hidden_size=hidden_size)
        self.embed = TokenEmbedding(vocab_size, embed_size, pad_id=pad_id, unk_id=unk_id, word_dropout=word_dropout)
        self.w_x = nn.Linear(embed_size, hidden_size)  # W_x and b
        self.w_h = nn.Linear(hidden_size, hidden_size, bias=False)
        _init_like_torch_rnn(self.w_x, hidden_size)
        _init_like_torch_rnn(self.w_h, hidden_size)
        self.out = nn.Linear(hidden_size, num_tags)

    def recurrence(self, e: Tensor) -> Tensor:
        """Hidden states (B, T, H) of the inputs ``e`` (B, T, E)."""
        xs = self.w_x(e)  # W_x x_t + b for every t at once: (B, T, H)
        h = xs.new_zeros(xs.shape[0], xs.shape[2])
        states = []
        for t in range(xs.shape[1]):
            h = torch.tanh(xs[:, t] + self.w_h(h))
            states.append(h)
        return torch.stack(states, dim=1)

    def forward(self, x: Tensor) -> Tensor:
        e, _ = self.embed(x)
        return self.out(self.recurrence(e))


class JordanRNN(nn.Module):
    """Jordan network tagger: the previous step's *output* is fed back, not its hidden state.

    ``h_t = tanh(W_x x_t + W_y ŷ_{t−1} + b)``, ``logits_t = W_o h_t + c``,
    ``ŷ_t = softmax(logits_t)``, ``ŷ_0 = 0``.

    What is fed back is the model's own predicted tag distribution ŷ, not the gold tag:
    at test time there is no gold tag, so feeding it in training (teacher forcing) would
    train the network on inputs it never gets when used, and a one-hot gold tag would cut
    the gradient path through time. The softmax is differentiable, so backpropagation
    through time runs through it. The only memory is this C-dimensional distribution
    (C = ``num_tags``): whatever the network wants to remember of the words before — say
    "from" vs "to" — it has to encode in its tag probabilities.
    """

    def __init__(self, vocab_size: int, num_tags: int, embed_size: int = 64, hidden_size: int = 64, *,
                 pad_id: int = 1, unk_id: int = 0, word_dropout: float | Tensor = 0.0):
        super().__init__()
        _check_sizes(vocab_size=vocab_size, num_tags=num_tags, embed_size=embed_size, hidden_size=hidden_size)
        self.embed = TokenEmbedding(vocab_size, embed_size, pad_id=pad_id, unk_id=unk_id, word_dropout=word_dropout)
        self.w_x = nn.Linear(embed_size, hidden_size)  # W_x and b
        self.w_y = nn.Linear(num_tags, hidden_size, bias=False)
        _init_like_torch_rnn(self.w_x, hidden_size)
        _init_like_torch_rnn(self.w_y, hidden_size)
        self.out = nn.Linear(hidden_size, num_tags)

    def forward(self, x: Tensor) -> Tensor:
        e, _ = self.embed(x)
        xs = self.w_x(e)  # (B, T, H)
        y = xs.new_zeros(xs.shape[0], self.out.out_features)  # ŷ_0 = 0: (B, C)
        logits = []
        for t in range(xs.shape[1]):
            h = torch.tanh(xs[:, t] + self.w_y(y))
            step = self.out(h)
            logits.append(step)
            y = torch.softmax(step, dim=-1)
        return torch.stack(logits, dim=1)  # (B, T, C)
