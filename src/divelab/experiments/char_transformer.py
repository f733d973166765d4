"""Chapter 7 — a decoder-only Transformer language model on the Bible, over characters
(``char-transformer``) or over subword pieces (``subword-transformer``).

The recurrent language models of :mod:`divelab.experiments.language_model` on the same text,
the same vocabulary and the same held-out books, with the LSTM replaced by
:class:`~divelab.models.char_transformer.CharTransformer`: causal self-attention over the last
``num_steps`` characters instead of a carried state. Training batches are random windows of
the training text (``partition="random"``: nothing is carried between batches); the held-out
books are read as consecutive windows of ``num_steps`` characters, each scored on its own, so
a character sees on average ``num_steps / 2`` characters of context (the LSTM carries its state
through the whole text: the comparison slightly favours the LSTM).

The summary has the held-out bits per character (``test_bpc``: windows side by side, as
evaluated after each epoch; ``test_bpc_overlap``: a window every ``num_steps / 2`` characters,
each character scored once from at least ``num_steps / 2`` of context, :func:`overlapping_loss`),
the training speed and the model FLOP utilisation (MACs per token from
:func:`divelab.analysis.flops.count_flops` on one full window, which includes the attention
products), and ``samples.txt`` the continuations of the
prefixes the recurrent models are given.

Measured (``divelab run char-transformer``, Intel Xeon with AMX, 2 threads, bf16 under
``precision=auto``, idle, ``OMP_WAIT_POLICY`` unset): held-out **1.684** bits per character after
two epochs (**1.641** read with overlapping windows), 477 s of training at 19,161 characters/s
(MFU 0.28 of the bf16 peak); one epoch on the hand-written layer norm, under
``OMP_WAIT_POLICY=PASSIVE``: 1.881 after 471 s at 9,688 characters/s. The 256-unit LSTM
reached 1.635 in 463 s (on the machine of its README row). bf16 against fp32 after 5·10⁵
characters: 3.509 / 3.490 against 3.511 / 3.492 bits (seeds 0, 1), 1.28× faster.

``subword-transformer`` is the same model and run over 512 SentencePiece BPE pieces of the
training text (:class:`~divelab.data.text_pieces.TextPieces`: case, spacing and line breaks
kept, so the pieces spell the text exactly), about 2.6 characters each: a window of 128
pieces spans ~330 characters, and a step covers 2.6 times the text. Its bits are per
character — the pieces' bits over the characters they spell — so it is compared with the
character models on the same held-out text. Measured the same way (``divelab run
subword-transformer``): **1.488** bits per character read with overlapping windows (1.508 side
by side) after six epochs, 544 s of training at 50,071 characters/s (19,213 pieces/s, MFU 0.25).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.analysis.flops import count_flops
from divelab.config import OptimConfig, OptimizerName, ScheduleName, setting
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.experiments.language_model.common import (PREFIXES, TEMPERATURES, LMData, bits_recorder, check_text,
                                                       final_metrics, prepare, samples_text, write_run_files)
from divelab.models.char_transformer import CharTransformer
from divelab.models.rnn_lm import bits_per_token, sequence_cross_entropy
from divelab.train.callbacks import Callback, EpochEnd, GradClip
from divelab.train.optim import build_optimizer, build_schedule


@dataclass
class CharTransformerConfig(OptimConfig):
    """A :class:`CharTransformer` on ``text`` (``web``, ``kjv`` or a UTF-8 file; see
    :class:`~divelab.experiments.language_model.TextDataConfig`).

    ``level``: ``char``, ``word`` or ``bpe`` tokens (``vocab_size`` pieces learnt from the
    training text; see :mod:`~divelab.experiments.language_model.common`).
    ``num_steps``: the window (and context) length in tokens; ``d_model``, ``nhead``, ``num_layers``,
    ``dim_feedforward``: the layers' shape; ``dropout`` on embeddings, attention and sublayers;
    ``clip``: the gradient-norm cap (0 = none); ``max_chars`` > 0 keeps only the first that many
    training characters. AdamW with a linear warm-up and cosine decay.
    """

    epochs: int = 2
    batch_size: int = 32
    lr: float = 2e-3
    optimizer: OptimizerName = "adamw"
    weight_decay: float = 0.01
    schedule: ScheduleName = "warmup_cosine"
    warmup_epochs: float = 0.05
    text: str = "web"
    level: Literal["char", "word", "bpe"] = "char"
    min_freq: int = setting(1, ge=1)
    vocab_size: int = setting(512, ge=8, note="the number of subword pieces at level bpe")
    max_chars: int = setting(0, ge=0)
    num_steps: int = setting(128, ge=1)
    d_model: int = setting(256, ge=1)
    nhead: int = setting(4, ge=1)
    num_layers: int = setting(4, ge=1)
    dim_feedforward: int = setting(1024, ge=1)
    dropout: float = setting(0.0, ge=0, lt=1)
    clip: float = setting(1.0, ge=0, note="0 turns clipping off")
    sample_tokens: int = setting(200, ge=0)
    partition: ClassVar[Literal["random", "sequential"]] = "random"  # windows are independent

    def validate(self) -> None:
        super().validate()
        check_text(self.text)
        if self.d_model % self.nhead:
            raise UserError(f"d_model ({self.d_model}) must be a multiple of nhead ({self.nhead})")


@dataclass
class SubwordTransformerConfig(CharTransformerConfig):
    """:class:`CharTransformerConfig` over ``vocab_size`` subword pieces (``level="bpe"``) instead of
    characters, for 6 epochs; its bits are still per character (the pieces' bits over the
    characters they spell).

    Chosen from runs on the idle Intel Xeon with AMX, bf16 (held-out bits per character read
    with overlapping windows; the first three probes are a stand-alone loop with the same
    model, optimiser and schedule): in 240 s of training, 2,048 / 1,024 / 512 pieces gave
    1.679 / 1.691 / 1.653 (3.5 / 3.1 / 2.6 characters per piece); 6 layers of 384 in 600 s
    1.719 (2.7 epochs: wider is slower to train and generalises worse here); dropout 0.1 in
    600 s 1.658 (it halves the speed: torch's fused CPU attention has no dropout); the default,
    6 epochs (544 s): **1.488**, 1.508 side by side.
    """

    epochs: int = 6
    level: Literal["char", "word", "bpe"] = "bpe"


def build_model(cfg: CharTransformerConfig, vocab_size: int, device: torch.device) -> CharTransformer:
    """The config's model, seeded by ``cfg.seed``, on ``device``."""
    torch.manual_seed(cfg.seed)
    return CharTransformer(vocab_size, cfg.d_model, cfg.nhead, cfg.num_layers, cfg.dim_feedforward,
                           cfg.dropout, context=cfg.num_steps).to(device)


def macs_per_token(model: CharTransformer) -> int:
    """Multiply–accumulates per token of one full window (the attention's share grows with the window)."""
    return count_flops(model, (model.context,), dtype=torch.long).macs // model.context


@torch.inference_mode()
def overlapping_loss(model: CharTransformer, ids: Tensor, window: int, stride: int, batch_size: int = 64,
                     autocast: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
                     ) -> tuple[float, int]:
    """Mean cross-entropy of every token of ``ids`` after the first, read in windows that overlap.

    Windows of ``window`` tokens start every ``stride`` tokens (the last one ends at the text's
    end); each scores only the targets the windows before it did not, so every token is scored
    once, and — after the first window — from at least ``window − stride`` tokens of context
    (``stride = window // 2``: ``window / 2`` or more, against ``window / 2`` on average for
    windows side by side). Returns ``(loss in nats, tokens scored)``.
    """
    n = len(ids)
    if n <= window:
        raise ValueError(f"need more than window = {window} tokens, got {n}")
    last = n - window - 1
    starts = torch.cat([torch.arange(0, last + 1, stride), torch.tensor([last])]).unique()   # (K,)
    ends = starts + window + 1                           # one past the last target each window scores
    first = torch.cat([torch.zeros(1, dtype=torch.long), ends[:-1] - starts[1:] - 1])       # first j scored
    offsets = torch.arange(window)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for chunk in range(0, len(starts), batch_size):
        s, j0 = starts[chunk:chunk + batch_size], first[chunk:chunk + batch_size]
        index = (s[:, None] + offsets).to(ids.device)                                      # (b, W)
        with autocast():
            logits = model(ids[index]).float()
        losses = F.cross_entropy(logits.flatten(0, 1), ids[index + 1].flatten(), reduction="none").view_as(index)
        scored = (offsets[None, :] >= j0[:, None]).to(ids.device)
        total += losses[scored].sum().item()
        count += int(scored.sum())
    model.train(was_training)
    return total / count, count


def bits_per_char(loss: float, tokens: list[str], data: LMData) -> float:
    """Bits per character of a mean ``loss`` (nats) over every token of ``tokens`` but the first:
    their bits over the characters they spell (per token at word level)."""
    if not data.chars_per_token:
        return bits_per_token(loss)
    return bits_per_token(loss) * (len(tokens) - 1) / (len(data.join(tokens)) - len(data.join(tokens[:1])))


def samples(model: CharTransformer, data: LMData, cfg: CharTransformerConfig) -> dict[str, dict[str, str]]:
    """``{prefix: {"greedy" | "T=0.5" | …: text}}`` for the recurrent models' prefixes (seeded draws)."""
    prefixes = [p.lower() for p in PREFIXES] if cfg.level == "word" else list(PREFIXES)
    generator = torch.Generator().manual_seed(cfg.seed)
    device = next(model.parameters()).device
    out: dict[str, dict[str, str]] = {}
    for prefix in prefixes:
        tokens = data.split(prefix)
        ids = data.vocab.encode(tokens).view(1, -1).to(device)
        out[prefix] = {}
        for t in TEMPERATURES:
            new = model.generate(ids, cfg.sample_tokens, temperature=t, generator=generator)[0, ids.shape[1]:]
            out[prefix]["greedy" if t == 0 else f"T={t:g}"] = data.join(tokens + data.vocab.decode(new))
    return out


def char_transformer(cfg: CharTransformerConfig, ctx: RunContext) -> dict[str, Any]:
    data = prepare(cfg, ctx.device)
    model = build_model(cfg, len(data.vocab), ctx.device)
    optimizer = build_optimizer(cfg, model.parameters())
    scheduler = build_schedule(cfg, optimizer, len(data.train))
    callbacks: list[Callback] = [GradClip(cfg.clip)] if cfg.clip > 0 else []
    callbacks.append(EpochEnd(bits_recorder(data)))
    trainer = ctx.trainer(model, sequence_cross_entropy, optimizer, data.train, data.test, classification=False,
                          callbacks=callbacks, scheduler=scheduler)
    ctx.fit(trainer, title=f"{ctx.experiment}: {cfg.num_layers} × {cfg.d_model}, {cfg.level}-level, "
                           f"window {cfg.num_steps}")
    generated = samples(model, data, cfg)
    write_run_files(ctx, data, samples_text({"": generated}))
    test_tokens = data.split(data.corpus.test)
    overlap, _ = overlapping_loss(model, data.vocab.encode(test_tokens).to(ctx.device), cfg.num_steps,
                                  max(1, cfg.num_steps // 2), autocast=trainer.amp.autocast)
    return {**final_metrics(ctx, model, data, cfg, trainer.history, macs_per_token(model)),
            "test_bpc_overlap": bits_per_char(overlap, test_tokens, data),
            "parameters": sum(p.numel() for p in model.parameters()), "vocab_size": len(data.vocab),
            "train_tokens": len(data.train.tensors[0]), "test_tokens": len(data.test.tensors[0]),
            "test_books": list(data.corpus.test_books), "samples": generated}


EXPERIMENTS = [
    Experiment("char-transformer", "attention",
               "Character-level decoder-only Transformer language model (causal self-attention) on the Bible",
               CharTransformerConfig, char_transformer, headline=("test_bpc", "test_ppl", "tokens_per_s"),
               bf16=True),
    Experiment("subword-transformer", "attention",
               "Decoder-only Transformer language model over subword pieces (BPE), scored per character, "
               "on the Bible", SubwordTransformerConfig, char_transformer,
               headline=("test_bpc", "test_bpc_overlap", "chars_per_s"), bf16=True),
]
