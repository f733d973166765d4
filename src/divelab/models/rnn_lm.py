"""A recurrent language model: tokens in, next-token logits out (d2l §9.5–10.3).

    x (B, T) ids → embedding (B, T, E) or one-hot (B, T, V) → RNN / GRU / LSTM (B, T, D·H)
      → Linear → logits (B, T, V),   loss = mean over B·T of −log softmax(logits)[y]

Trained on sequentially partitioned batches (row ``b`` of batch ``i + 1`` continues row ``b``
of batch ``i``), the model can *carry* its final hidden state into the next call: the state
is detached, so gradients flow back ``T`` steps only (truncated backpropagation through
time) while the forward pass sees the whole past. The carried state is reset

- whenever ``train()`` or ``eval()`` is called: the Trainer calls ``model.train()`` at the
  start of every epoch and ``evaluate`` switches to eval and back, so every epoch and every
  evaluation starts from a zero state;
- when the batch size (or device, or dtype) of the input changes;
- by :meth:`RNNLM.reset_state`.

The state is not a parameter or buffer, so checkpoints do not hold it: a run resumed in the
middle of an epoch restarts that epoch's remaining batches from a zero state, the only way a
resumed language-model run differs from an uninterrupted one (checkpoints at epoch ends
are exact, since each epoch starts from zero anyway).

Quality is reported as perplexity ``exp(loss)`` — the effective number of equally likely
choices per token — and bits per token ``loss / ln 2`` (bits per character at char level).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.data.vocab import Vocab, tokenize
from divelab.scratch import rnn as scratch_rnn

Cell = Literal["rnn", "gru", "lstm"]
State = Union[Tensor, tuple[Tensor, Tensor]]  # h_n, or (h_n, c_n) for an LSTM; each (L·D, B, H)

TORCH_LAYERS: dict[str, type[nn.Module]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
SCRATCH_LAYERS: dict[str, type[nn.Module]] = {"rnn": scratch_rnn.RNNScratch, "gru": scratch_rnn.GRUScratch,
                                              "lstm": scratch_rnn.LSTMScratch}


def _detach(state: State) -> State:
    if isinstance(state, tuple):
        return (state[0].detach(), state[1].detach())
    return state.detach()


def _first(state: State) -> Tensor:
    return state[0] if isinstance(state, tuple) else state


class RNNLM(nn.Module):
    """Language model ``embedding/one-hot → recurrent layer → Linear`` over a vocabulary of ``vocab_size``.

    ``cell`` picks ``nn.RNN`` (tanh), ``nn.GRU`` or ``nn.LSTM`` — or with ``scratch=True``
    their twins from :mod:`divelab.scratch.rnn` (same parameter names and shapes, so a
    state dict moves between the two). ``embed_size=0`` feeds one-hot vectors, as d2l does;
    otherwise a learned ``nn.Embedding``. ``dropout`` acts between stacked layers and on the
    top layer's output. ``bidirectional`` reads each sequence both ways (for tagging; as a
    language model it cheats, see the ``birnn`` experiment) and cannot carry its state.
    With ``carry_state`` the detached final state of each call starts the next one (see
    the module docstring); without it every call starts from zero.
    """

    def __init__(self, vocab_size: int, cell: Cell, hidden_size: int, num_layers: int = 1, *,
                 scratch: bool = False, embed_size: int = 0, bidirectional: bool = False,
                 dropout: float = 0.0, carry_state: bool = True):
        super().__init__()
        if cell not in TORCH_LAYERS:
            raise ValueError(f"cell must be one of {', '.join(TORCH_LAYERS)}, got {cell!r}")
        for name, value, low in (("vocab_size", vocab_size, 1), ("hidden_size", hidden_size, 1),
                                 ("num_layers", num_layers, 1), ("embed_size", embed_size, 0)):
            if value < low:
                raise ValueError(f"{name} must be ≥ {low}, got {value}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if bidirectional and carry_state:
            raise ValueError("a bidirectional model cannot carry its state to the next batch (its backward "
                             "direction ends at the start of the sequence); pass carry_state=False")
        self.vocab_size, self.cell, self.hidden_size, self.num_layers = vocab_size, cell, hidden_size, num_layers
        self.scratch, self.bidirectional, self.carry_state = scratch, bidirectional, carry_state
        self.embedding = nn.Embedding(vocab_size, embed_size) if embed_size else None
        layer = (SCRATCH_LAYERS if scratch else TORCH_LAYERS)[cell]
        self.rnn = layer(embed_size or vocab_size, hidden_size, num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), vocab_size)
        self._state: State | None = None

    def inputs(self, x: Tensor) -> Tensor:
        """Token ids (B, T) → input vectors (B, T, E), or one-hot (B, T, V) in the weights' dtype."""
        if self.embedding is not None:
            return self.embedding(x)
        return F.one_hot(x, self.vocab_size).to(self.head.weight.dtype)

    def forward_state(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Logits (B, T, V) and the final state, starting from ``state`` (zeros if None).

        Nothing is stored: this is the stateless core that :meth:`forward` and
        :func:`generate` share.
        """
        out, state = self.rnn(self.inputs(x), state)  # out: (B, T, D·H)
        return self.head(self.drop(out)), state

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B, T, V) for token ids ``x`` (B, T), continuing from the carried state if any."""
        if not self.carry_state:
            return self.forward_state(x)[0]
        logits, state = self.forward_state(x, self._carried(x))
        self._state = _detach(state)  # truncated BPTT: the next call's graph starts here
        return logits

    def _carried(self, x: Tensor) -> State | None:
        """The carried state if it fits ``x``'s batch (size, device, dtype), else None (a fresh start)."""
        if self._state is None:
            return None
        h = _first(self._state)
        if h.shape[1] != x.shape[0] or h.device != x.device or h.dtype != self.head.weight.dtype:
            return None
        return self._state

    def reset_state(self) -> None:
        """Forget the carried state: the next call starts from zeros."""
        self._state = None

    def train(self, mode: bool = True) -> RNNLM:
        """Switch training/eval mode and reset the carried state (each epoch and evaluation starts afresh)."""
        self.reset_state()
        return super().train(mode)


def sequence_cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy over every position: logits (B, T, V), targets (B, T) → scalar.

    ``loss = −(1 / B·T) Σ_{b,t} log softmax(logits[b, t])[y[b, t]]``. The Trainer weights a
    batch by ``len(y)`` sequences of ``T`` tokens each, so its epoch mean is the token mean.
    """
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())


def perplexity(loss: float) -> float:
    """``exp(loss)``: the effective number of equally likely next tokens (1 = certain; V = uniform guess)."""
    return math.exp(loss) if loss < 700 else math.inf


def bits_per_token(loss: float) -> float:
    """``loss / ln 2``: the mean cross-entropy in bits (bits per character at char level)."""
    return loss / math.log(2)


def _pick(logits: Tensor, temperatures: Tensor, generator: torch.Generator | None) -> Tensor:
    """One next token per row of ``logits`` (R, V): ``argmax`` where the row's temperature is 0,
    else a draw from ``softmax(logits / T)`` (on the CPU, in float64); never ``<unk>`` (id 0),
    which stands for no token in particular."""
    logits = logits.detach().double().cpu()
    logits[:, Vocab.unk] = -math.inf
    picked = logits.argmax(-1)
    sampled = temperatures > 0
    if sampled.any():
        probs = torch.softmax(logits[sampled] / temperatures[sampled, None], dim=-1)
        picked[sampled] = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return picked


@torch.no_grad()
def generate_many(model: RNNLM, vocab: Vocab, prefixes: Sequence[str], num_tokens: int, *,
                  temperatures: float | Sequence[float] = 0.0, generator: torch.Generator | None = None,
                  level: Literal["char", "word"] = "char") -> list[str]:
    """Each of ``prefixes`` followed by ``num_tokens`` tokens the model writes after it, all in one batch.

    Warm-up: each prefix is run through the model from a zero state; then every step picks
    one token per row from the last logits — greedily (temperature 0: always the most
    likely one) or sampled from ``softmax(logits / T)`` (T < 1 sharpens, T > 1 flattens;
    ``temperatures`` gives one T for all rows or one per row), with ``generator`` for
    reproducible draws — and feeds it back in. ``<unk>`` is never picked (the softmax is over
    the known tokens), so a char-level continuation has exactly ``num_tokens`` characters.
    A bidirectional model has no running state (its backward direction changes whenever a
    token is appended), so it reads the whole text again for every token. ``level`` says how
    the prefixes are tokenised and the new tokens joined (``""`` between characters, ``" "``
    before and between words). The model's carried training state is not used; the model is
    put in eval mode and back, which resets it.
    """
    temps = [float(temperatures)] * len(prefixes) if isinstance(temperatures, (int, float)) else \
        [float(t) for t in temperatures]
    if len(temps) != len(prefixes):
        raise ValueError(f"got {len(temps)} temperatures for {len(prefixes)} prefixes")
    if num_tokens < 0:
        raise ValueError(f"num_tokens must be ≥ 0, got {num_tokens}")
    if not all(t >= 0 and math.isfinite(t) for t in temps):
        raise ValueError(f"temperatures must be finite numbers ≥ 0, got {temps}")
    if len(vocab) < 2:
        raise ValueError("the vocabulary holds no token but <unk>: there is nothing to generate")
    tokens = [tokenize(p, level) for p in prefixes]
    if not all(tokens):
        raise ValueError("every prefix must hold at least one token to start from")
    device = model.head.weight.device
    rows = [vocab.encode(t).to(device)[None] for t in tokens]  # each (1, P_i)
    was_training = model.training
    model.eval()
    try:
        continue_ = _continue_bidirectional if model.bidirectional else _continue
        new = continue_(model, rows, num_tokens, torch.tensor(temps, dtype=torch.float64), generator)
    finally:
        model.train(was_training)
    sep = "" if level == "char" else " "
    return [p + "".join(sep + t for t in vocab.decode(ids)) for p, ids in zip(prefixes, new)]


def generate(model: RNNLM, vocab: Vocab, prefix: str, num_tokens: int, *, temperature: float = 0.0,
             generator: torch.Generator | None = None, level: Literal["char", "word"] = "char") -> str:
    """``prefix`` followed by ``num_tokens`` tokens the model writes after it: greedy
    (``temperature=0``) or sampled from ``softmax(logits / T)``; see :func:`generate_many`."""
    return generate_many(model, vocab, [prefix], num_tokens, temperatures=temperature, generator=generator,
                         level=level)[0]


def _stack(states: list[State]) -> State:
    """Per-row states, each (L·D, 1, H), as one batch (L·D, R, H)."""
    if isinstance(states[0], tuple):
        return tuple(torch.cat(parts, dim=1) for parts in zip(*states))  # type: ignore[return-value]
    return torch.cat(states, dim=1)  # type: ignore[arg-type]


def _continue(model: RNNLM, rows: list[Tensor], num_tokens: int, temps: Tensor,
              generator: torch.Generator | None) -> Tensor:
    """The ids (R, num_tokens) that follow each prefix of ``rows``, stepping the state of all rows at once."""
    warm = [model.forward_state(row) for row in rows]
    last = torch.cat([logits[:, -1] for logits, _ in warm])  # (R, V)
    state = _stack([s for _, s in warm])
    new = []
    for _ in range(num_tokens):
        new.append(_pick(last, temps, generator))
        logits, state = model.forward_state(new[-1].to(last.device)[:, None], state)
        last = logits[:, -1]
    return torch.stack(new, dim=1) if new else torch.zeros(len(rows), 0, dtype=torch.int64)


def _continue_bidirectional(model: RNNLM, rows: list[Tensor], num_tokens: int, temps: Tensor,
                            generator: torch.Generator | None) -> Tensor:
    """As :func:`_continue`, re-reading the whole text each step; rows whose prefixes are
    equally long share a batch."""
    new = torch.zeros(len(rows), num_tokens, dtype=torch.int64)
    by_length: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        by_length.setdefault(row.shape[1], []).append(i)
    for group in by_length.values():
        ids = torch.cat([rows[i] for i in group])  # (G, P)
        for step in range(num_tokens):
            logits, _ = model.forward_state(ids)
            new[group, step] = _pick(logits[:, -1], temps[group], generator)
            ids = torch.cat([ids, new[group, step].to(ids.device)[:, None]], dim=1)
    return new
