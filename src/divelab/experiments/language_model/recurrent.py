"""The recurrent character-level language models (d2l §9.5–10.3): ``rnn-scratch``, ``rnn``,
``gru-scratch``, ``gru``, ``lstm-scratch``, ``lstm`` and ``deep-rnn`` (two stacked LSTM layers).

Each trains an :class:`~divelab.models.rnn_lm.RNNLM` on the training books with truncated
BPTT (sequential partitioning, the detached state carried across batches) and gradient-norm
clipping; each epoch reports the held-out books' loss, perplexity ``exp(loss)`` and bits per
character ``loss / ln 2``. The ``-scratch`` variants use the recurrent layers of
:mod:`divelab.scratch.rnn`, the clipping of :mod:`divelab.scratch.clip` and the hand-written
optimiser and schedule. Each run writes ``vocab.json`` and ``samples.txt`` (greedy and
sampled continuations of fixed prefixes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from divelab.config import OptimConfig, OptimizerName, ScheduleName, setting
from divelab.experiment import Experiment, RunContext
from divelab.experiments.language_model.common import (PREFIXES, TEMPERATURES, LMData, bits_recorder, check_text,
                                                       final_metrics, prepare, samples_text, write_run_files)
from divelab.models.rnn_lm import RNNLM, Cell, generate_many, sequence_cross_entropy
from divelab.scratch.clip import clip_grad_norm
from divelab.train.callbacks import Callback, EpochEnd, GradClip
from divelab.train.optim import build_optimizer, build_schedule


@dataclass
class LMConfig(OptimConfig):
    """A recurrent language model on ``text`` (see :class:`TextDataConfig`).

    ``level``: ``char`` or ``word`` tokens (words rarer than ``min_freq`` become ``<unk>``);
    ``max_chars`` > 0 keeps only the first that many characters of the training text (for
    quick trials). ``num_steps``: the length of each training sequence (how far back
    gradients flow). ``embed_size`` 0 feeds one-hot vectors. ``partition``: ``sequential``
    carries the hidden state from batch to batch, ``random`` starts every batch from zero.
    ``clip``: the gradient-norm cap (0 = none). ``sample_tokens``: the length of each
    generated continuation in ``samples.txt``.

    Defaults, chosen from one-epoch probes on the first 10⁶ characters of the WEB (one
    thread of a shared 2-core machine): after those 10⁶ characters the 256-unit LSTM's
    held-out bits per character were 2.77 with Adam lr 0.002, 2.41 with 0.005 and 2.23
    with 0.01 (num_steps 64), and 2.16 with 0.01 and num_steps 32 (twice the updates for the
    same work; the carried state still reaches further back); two epochs of them at lr 0.02
    ended at 2.34 against 2.08 at 0.01. Epochs: the LSTM trains at ~40 k characters per
    second on 2 idle cores, ~110 s per epoch of the 4.6 M training characters. Held-out bits
    after 3 / 4 / 5 epochs: 1.646 / 1.635 / 1.634 (463 s for 4, 588 s for 5), hence 4; with
    dropout 0.1, 5 epochs: 1.654 (the model underfits; dropout does not pay).
    """

    epochs: int = 4
    batch_size: int = 32
    lr: float = 0.01
    optimizer: OptimizerName = "adam"
    schedule: ScheduleName = "cosine"
    text: str = "web"
    level: Literal["char", "word"] = "char"
    min_freq: int = setting(1, ge=1)
    max_chars: int = setting(0, ge=0)
    num_steps: int = setting(32, ge=1)
    hidden_size: int = setting(256, ge=1)
    num_layers: int = setting(1, ge=1)
    embed_size: int = setting(32, ge=0)
    dropout: float = setting(0.0, ge=0, lt=1)
    partition: Literal["random", "sequential"] = "sequential"
    clip: float = setting(1.0, ge=0, note="0 turns clipping off")
    sample_tokens: int = setting(200, ge=0)

    def validate(self) -> None:
        super().validate()
        check_text(self.text)


@dataclass
class ScratchLMConfig(LMConfig):
    """As :class:`LMConfig`, with 2 epochs: the hand-written layers are slower (training steps
    at 256 units, batch 32 × 32, one thread of a loaded machine: LSTM 1.0–1.5×, GRU ≈ 1.3×,
    RNN ≈ 1.05× the time of torch's). The scratch layers start from the same weights as
    torch's under the same seed, so with ``--epochs 4`` a scratch run retraces the library
    run up to float32 rounding."""

    epochs: int = 2


@dataclass
class RNNGRUConfig(LMConfig):
    """The RNN and the GRU at lr 0.005. At 0.01 the GRU's first epoch on the WEB was unstable
    (gradient norms up to 747, 31 % of updates clipped) and 3 epochs ended at 2.20 held-out
    bits per character (1.675 at 0.005); the RNN's gradient norms grew to 570 and its held-out
    bits went 3.25 → 3.71 → 2.24 → 2.14 over 4 epochs (at 0.005: 2.05 → 1.95 → 1.84 → 1.80)."""

    lr: float = 0.005


@dataclass
class ScratchRNNGRUConfig(ScratchLMConfig):
    """The scratch RNN and GRU at the library models' lr (see :class:`RNNGRUConfig`)."""

    lr: float = 0.005


@dataclass
class DeepLMConfig(LMConfig):
    """Two stacked LSTM layers of 256 units, 2 epochs (an epoch costs about twice the one-layer one)."""

    epochs: int = 2
    num_layers: int = 2


def fit_lm(cfg: LMConfig, ctx: RunContext, data: LMData, cell: Cell, *, scratch: bool = False,
           bidirectional: bool = False, name: str | None = None) -> tuple[RNNLM, list[dict[str, Any]]]:
    """Train a fresh :class:`RNNLM` (seeded by ``cfg.seed``) with ``cfg``'s settings; model and history."""
    torch.manual_seed(cfg.seed)
    carry = cfg.partition == "sequential" and not bidirectional
    model = RNNLM(len(data.vocab), cell, cfg.hidden_size, cfg.num_layers, scratch=scratch,
                  embed_size=cfg.embed_size, bidirectional=bidirectional, dropout=cfg.dropout,
                  carry_state=carry).to(ctx.device)
    optimizer = build_optimizer(cfg, model.parameters(), scratch=scratch)
    scheduler = build_schedule(cfg, optimizer, len(data.train), scratch=scratch)
    callbacks: list[Callback] = []
    if cfg.clip > 0:
        callbacks.append(GradClip(cfg.clip, clip_fn=clip_grad_norm if scratch else None))
    callbacks.append(EpochEnd(bits_recorder(data)))
    trainer = ctx.trainer(model, sequence_cross_entropy, optimizer, data.train, data.test, classification=False,
                          callbacks=callbacks, scheduler=scheduler, name=name)
    ctx.fit(trainer, title=f"{name or ctx.experiment}: {cfg.level}-level, hidden {cfg.hidden_size}")
    return model, trainer.history


def samples(model: RNNLM, data: LMData, cfg: LMConfig) -> dict[str, dict[str, str]]:
    """``{prefix: {"greedy" | "T=0.5" | …: text}}`` for every prefix and temperature (seeded draws)."""
    prefixes = [p.lower() for p in PREFIXES] if cfg.level == "word" else list(PREFIXES)
    rows = [(p, t) for p in prefixes for t in TEMPERATURES]
    texts = generate_many(model, data.vocab, [p for p, _ in rows], cfg.sample_tokens,
                          temperatures=[t for _, t in rows], generator=torch.Generator().manual_seed(cfg.seed),
                          level=cfg.level)
    out: dict[str, dict[str, str]] = {p: {} for p in prefixes}
    for (p, t), text in zip(rows, texts):
        out[p]["greedy" if t == 0 else f"T={t:g}"] = text
    return out


def _lm_experiment(cell: Cell, scratch: bool) -> Any:
    """The run function of a character-level language model with ``cell`` layers (from scratch or torch)."""

    def run(cfg: LMConfig, ctx: RunContext) -> dict[str, Any]:
        data = prepare(cfg, ctx.device)
        model, history = fit_lm(cfg, ctx, data, cell, scratch=scratch)
        generated = samples(model, data, cfg)
        write_run_files(ctx, data, samples_text({"": generated}))
        return {**final_metrics(ctx, model, data, cfg, history),
                "cell": cell, "scratch": scratch, "parameters": sum(p.numel() for p in model.parameters()),
                "vocab_size": len(data.vocab), "train_tokens": len(data.train.tensors[0]),
                "test_tokens": len(data.test.tensors[0]), "test_books": list(data.corpus.test_books),
                "samples": generated}

    return run


def _experiment(name: str, cell: Cell, scratch: bool, config: type[LMConfig], what: str) -> Experiment:
    return Experiment(name, "rnn", what, config, _lm_experiment(cell, scratch),
                      headline=("test_bpc", "test_ppl", "tokens_per_s"))


EXPERIMENTS = [
    _experiment("rnn-scratch", "rnn", True, ScratchRNNGRUConfig, "Character-level language model, RNN from scratch"),
    _experiment("rnn", "rnn", False, RNNGRUConfig, "Character-level language model with nn.RNN"),
    _experiment("gru-scratch", "gru", True, ScratchRNNGRUConfig, "Character-level language model, GRU from scratch"),
    _experiment("gru", "gru", False, RNNGRUConfig, "Character-level language model with nn.GRU"),
    _experiment("lstm-scratch", "lstm", True, ScratchLMConfig, "Character-level language model, LSTM from scratch"),
    _experiment("lstm", "lstm", False, LMConfig, "Character-level language model with nn.LSTM"),
    _experiment("deep-rnn", "lstm", False, DeepLMConfig, "Character-level language model, two stacked LSTM layers"),
]
