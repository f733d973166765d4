"""Chapter 7 — machine translation with encoder–decoders, attention and the Transformer (d2l §10–11).

- ``seq2seq``: d2l's GRU encoder–decoder (:class:`~divelab.models.seq2seq.GRUSeq2Seq`);
- ``seq2seq-attention``: the GRU decoder with Bahdanau attention
  (:class:`~divelab.models.seq2seq.AttentionSeq2Seq`), attention heatmaps of test sentences;
- ``transformer``: the encoder–decoder Transformer (:class:`~divelab.models.transformer.Transformer`),
  heatmaps of each head of its last decoder layer's cross-attention.

Each trains on the English→Spanish Bible verses (``pairs=bible``; ``$DIVELAB_PAIRS`` replaces
them, ``pairs=PATH`` reads your own tab-separated pairs) with teacher forcing and the masked,
label-smoothed cross-entropy, Adam and a warm-up + cosine schedule, gradient-norm clipping;
then translates every test pair greedily and with beam search (batched) and scores both with
corpus BLEU (sacrebleu's definition, :mod:`divelab.scratch.bleu`) and chrF against the
references. BLEU is computed on the text as the tokenizer sees it (lower-cased by default, so
case does not count).

Run directory: ``test.src`` (source sentences), ``test.ref`` (references), ``test.hyp`` (beam
translations) and ``test.greedy.hyp``, one line per test pair in the same order;
``translation.json`` + ``preprocessing.json`` (+ subword models) + ``checkpoint/`` for
``divelab translate RUN_DIR "sentence"`` (:mod:`divelab.translate`).

Defaults are the measured full runs (README, "Attention, machine translation and the
Transformer"): all ~28,500 training pairs, 8,000 BPE pieces per language, Adam lr 0.002
with warm-up and cosine decay; the Transformer (d_model 128, 2 + 2 layers, FFN 512) for 10
epochs, the GRU models (256-wide embeddings, 2 layers of 256) for 4. The GRU models trained
for 40–51 minutes on 2 shared CPU cores to test BLEU 7.5 (seq2seq) and 11.4
(seq2seq-attention); the Transformer for 24.6 minutes on 2 idle cores of an Intel Xeon to
BLEU 30.6 (beam 4; on the hand-written layer norm before, 9 epochs: 29.9 after 28.1 minutes
on a slower Xeon of the same type). One epoch of all pairs is ~0.86 M target tokens; ``--set
max_pairs=5000 --epochs 1`` is a trial of a few minutes that checks the plumbing (measure
the speed with ``benchmarks/translation_throughput.py`` to choose epochs for another budget).

Three experiments kept in one module because they share config, data, training, evaluation
(greedy and beam BLEU, chrF) and run files, and differ only in the model (and, for the two
with attention, its heatmaps).
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from divelab.analysis.flops import count_call
from divelab.config import OptimConfig, OptimizerName, ScheduleName, setting
from divelab.data.parallel import PairCorpus, TranslationData, load_pairs, translation_data
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.files import atomic_write_bytes
from divelab.models.seq2seq import TranslationLoss
from divelab.report.figures import new_figure
from divelab.scratch.bleu import corpus_bleu, corpus_chrf
from divelab.train.callbacks import GradClip
from divelab.train.optim import build_optimizer, build_schedule
from divelab.train.trainer import loss_terms
from divelab.translate import DecodeSettings, build_model, decode_ids
from divelab.translate import save as save_translation

TOPIC = "translation"


@dataclass
class TranslationConfig(OptimConfig):
    """Data, training and decoding settings shared by the translation experiments.

    Data: ``pairs`` (``bible``, or a tab-separated pairs file), ``tokenizer`` (``word``
    tokens with ``min_freq``, or SentencePiece ``bpe``/``unigram`` with about ``vocab_size``
    pieces per language), ``lower`` (lower-case everything), ``num_steps`` (tokens per
    sentence, ``<eos>`` included; longer ones are cut), ``max_pairs`` (> 0: a random subset of
    that many training pairs, for quick runs; 0 = all), ``bucket`` (batches of similar length,
    see :class:`~divelab.data.parallel.PairLoader`).
    Training: ``label_smoothing`` ε, ``clip`` (gradient-norm cap, 0 = none), ``dropout``.
    Decoding: ``beam_size``, ``length_penalty`` α (score = log p / len^α), maximum length
    ``⌊max_len_a · src_len + max_len_b⌋``, ``decode_batch`` sentences at a time.
    Report: ``examples`` translations in the summary, ``heatmaps`` attention figures.
    """

    epochs: int = 4
    batch_size: int = 64
    lr: float = 0.002
    optimizer: OptimizerName = "adam"
    schedule: ScheduleName = "warmup_cosine"
    warmup_epochs: float = 0.5
    pairs: str = "bible"
    tokenizer: Literal["word", "bpe", "unigram"] = "bpe"
    vocab_size: int = setting(8000, ge=8)
    min_freq: int = setting(2, ge=1)
    lower: bool = True
    num_steps: int = setting(80, ge=2)
    max_pairs: int = setting(0, ge=0)
    bucket: int = setting(50, ge=0)
    label_smoothing: float = setting(0.1, ge=0, lt=1)
    clip: float = setting(1.0, ge=0, note="0 = no clipping")
    dropout: float = setting(0.1, ge=0, lt=1)
    beam_size: int = setting(4, ge=1)
    length_penalty: float = 1.0
    max_len_a: float = setting(1.5, ge=0)
    max_len_b: float = setting(10.0, ge=1)
    decode_batch: int = setting(100, ge=1)
    examples: int = setting(5, ge=0)
    heatmaps: int = setting(3, ge=0)

    def validate(self) -> None:
        super().validate()
        if not self.pairs.strip():
            raise UserError("pairs must be bible or the path of a tab-separated pairs file; got an empty string")

    def resumable(self) -> tuple[str, ...]:
        # decoding happens after training: its settings may change when a run is resumed
        return (*super().resumable(), "beam_size", "length_penalty", "max_len_a", "max_len_b", "decode_batch",
                "examples", "heatmaps")


@dataclass
class RNNTranslationConfig(TranslationConfig):
    """A GRU encoder–decoder: ``embed_size``, GRU state ``num_hiddens`` in ``num_layers`` layers."""

    dropout: float = 0.2
    embed_size: int = setting(256, ge=1)
    num_hiddens: int = setting(256, ge=1)
    num_layers: int = setting(2, ge=1)

    def model_args(self) -> dict[str, Any]:
        return {"embed_size": self.embed_size, "num_hiddens": self.num_hiddens, "num_layers": self.num_layers,
                "dropout": self.dropout}


@dataclass
class TransformerTranslationConfig(TranslationConfig):
    """A Transformer: width ``d_model``, ``nhead`` heads, layers per stack, FFN width;
    ``norm_first`` pre-norm layers; ``tie_output`` shares the target embedding with the output layer."""

    epochs: int = 10
    warmup_epochs: float = 1.0
    d_model: int = setting(128, ge=1)
    nhead: int = setting(4, ge=1)
    num_encoder_layers: int = setting(2, ge=1)
    num_decoder_layers: int = setting(2, ge=1)
    dim_feedforward: int = setting(512, ge=1)
    norm_first: bool = False
    tie_output: bool = True

    def validate(self) -> None:
        super().validate()
        if self.d_model % self.nhead:
            raise UserError(f"d_model ({self.d_model}) must be a multiple of nhead ({self.nhead})")

    def model_args(self) -> dict[str, Any]:
        return {"d_model": self.d_model, "nhead": self.nhead, "num_encoder_layers": self.num_encoder_layers,
                "num_decoder_layers": self.num_decoder_layers, "dim_feedforward": self.dim_feedforward,
                "dropout": self.dropout, "norm_first": self.norm_first, "tie_output": self.tie_output,
                "max_len": max(1024, math.ceil(self.max_len_a * self.num_steps + self.max_len_b) + 1)}


# ---- data ----------------------------------------------------------------------------------------

def subset(corpus: PairCorpus, max_pairs: int, seed: int) -> PairCorpus:
    """``corpus`` with a random ``max_pairs`` of its training pairs (kept in their order); all if 0 or more."""
    if max_pairs == 0 or max_pairs >= len(corpus.train):
        return corpus
    chosen = torch.randperm(len(corpus.train), generator=torch.Generator().manual_seed(seed))[:max_pairs]
    return dataclasses.replace(corpus, train=[corpus.train[i] for i in sorted(chosen.tolist())])


def _data(cfg: TranslationConfig, ctx: RunContext, directory: Path) -> TranslationData:
    corpus = subset(load_pairs(cfg.pairs), cfg.max_pairs, cfg.seed)
    try:
        return translation_data(corpus, cfg.tokenizer, cfg.vocab_size, cfg.min_freq, cfg.num_steps, cfg.batch_size,
                                cfg.seed, ctx.device, lower=cfg.lower, directory=directory, bucket=cfg.bucket)
    except ValueError as exc:  # e.g. SentencePiece cannot fit the vocabulary to a tiny text
        raise UserError(f"cannot prepare the pairs: {exc}") from None


# ---- training ------------------------------------------------------------------------------------

def _train(cfg: TranslationConfig, ctx: RunContext, data: TranslationData, model: nn.Module) -> list[dict[str, Any]]:
    optimizer = build_optimizer(cfg, model.parameters())
    scheduler = build_schedule(cfg, optimizer, len(data.train_loader))
    callbacks = [GradClip(cfg.clip)] if cfg.clip > 0 else []
    # no test loader: the test pairs are scored by BLEU once at the end; validation loss each epoch
    trainer = ctx.trainer(model, TranslationLoss(data.pad, cfg.label_smoothing), optimizer, data.train_loader,
                          val_loader=data.val_loader, classification=False,
                          callbacks=callbacks, scheduler=scheduler)
    return ctx.fit(trainer)


SAMPLE_BATCHES = 8  # training batches whose multiply–accumulates are counted for the utilisation


def training_utilisation(ctx: RunContext, model: nn.Module, data: TranslationData, tokens: int,
                         seconds: float) -> dict[str, float]:
    """Model FLOP utilisation of the training (:func:`divelab.analysis.flops.utilisation`), the MACs per
    target token counted on the first :data:`SAMPLE_BATCHES` real training batches (attention costs grow
    with the lengths, so real batches rather than one dummy sentence)."""
    if seconds <= 0:
        return {}
    macs, terms = 0, 0
    count_terms = TranslationLoss(data.pad, 0.0)
    for i, (x, y) in enumerate(data.train_loader):
        if i == SAMPLE_BATCHES:
            break
        macs += count_call(model, x).macs
        terms += int(loss_terms(count_terms, y))
    per_token = macs / max(terms, 1)
    return {"macs_per_target_token": per_token, **ctx.utilisation(per_token, tokens, seconds)}


def tokens_per_second(history: list[dict[str, Any]], tokens_per_epoch: int) -> float:
    """Target tokens (``<eos>`` included, padding not) trained on per second of the batch loops."""
    seconds = sum(r["train_seconds"] for r in history)
    return len(history) * tokens_per_epoch / seconds if seconds > 0 else 0.0


# ---- decoding and scoring ------------------------------------------------------------------------

def _write_lines(ctx: RunContext, name: str, lines: list[str]) -> None:
    """One sentence a line (line breaks inside a sentence become spaces, so the counts stay aligned),
    written by process 0 alone (the others of a torchrun launch only compute)."""
    if ctx.world.is_main:
        text = "".join(" ".join(line.split()) + "\n" for line in lines)
        atomic_write_bytes(ctx.out_dir / name, text.encode("utf-8"))


def _evaluate(cfg: TranslationConfig, ctx: RunContext, data: TranslationData, model: nn.Module) -> dict[str, Any]:
    settings = _settings(cfg)
    prep, test = data.prep, data.test
    src, src_len = test.src.to(ctx.device), test.src_len.to(ctx.device)
    start = time.perf_counter()
    greedy_ids = decode_ids(model, src, src_len, prep, 1, settings)
    greedy_seconds = time.perf_counter() - start
    beam_ids = decode_ids(model, src, src_len, prep, cfg.beam_size, settings)
    beam_seconds = time.perf_counter() - start - greedy_seconds
    greedy = [prep.decode_target(ids) for ids in greedy_ids]
    beam = [prep.decode_target(ids) for ids in beam_ids]
    for name, lines in (("test.src", data.test_src), ("test.ref", data.test_ref), ("test.hyp", beam),
                        ("test.greedy.hyp", greedy)):
        _write_lines(ctx, name, lines)
    n = len(data.test_ref)
    examples = [{"source": data.test_src[i], "reference": data.test_ref[i], "greedy": greedy[i], "beam": beam[i]}
                for i in range(min(cfg.examples, n))]
    return {"bleu": corpus_bleu(beam, data.test_ref), "bleu_greedy": corpus_bleu(greedy, data.test_ref),
            "chrf": corpus_chrf(beam, data.test_ref), "chrf_greedy": corpus_chrf(greedy, data.test_ref),
            "test_pairs": n, "greedy_sentences_per_s": n / max(greedy_seconds, 1e-9),
            "beam_sentences_per_s": n / max(beam_seconds, 1e-9), "decode_seconds": greedy_seconds + beam_seconds,
            "examples": examples, "_beam_ids": beam_ids}


def _settings(cfg: TranslationConfig) -> DecodeSettings:
    return DecodeSettings(cfg.beam_size, cfg.length_penalty, cfg.max_len_a, cfg.max_len_b, cfg.decode_batch)


# ---- attention heatmaps --------------------------------------------------------------------------

def _heatmap_rows(data: TranslationData, beam_ids: list[list[int]], count: int) -> list[int]:
    """Test pairs to draw: the ``count`` with the shortest sources among the first 100 (readable labels)."""
    candidates = range(min(100, len(beam_ids)))
    return sorted(candidates, key=lambda i: (int(data.test.src_len[i]), i))[:count]


def _labels(data: TranslationData, row: int, hyp: list[int]) -> tuple[list[str], list[str]]:
    """Source tokens (with ``<eos>``) and target tokens the decoder produced (with ``<eos>``)."""
    length = int(data.test.src_len[row])
    src = data.src_vocab.decode(data.test.src[row, :length])
    return src, [*data.tgt_vocab.decode(hyp), "<eos>"]


def _attention_inputs(data: TranslationData, row: int, hyp: list[int],
                      device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    length = int(data.test.src_len[row])
    src = data.test.src[row:row + 1, :length].to(device)
    tgt_in = torch.tensor([[data.bos, *hyp]], dtype=torch.int64, device=device)
    return src, torch.tensor([length], device=device), tgt_in


def _draw(ax: Any, weights: Tensor, src: list[str], tgt: list[str], title: str, vmax: float) -> Any:
    image = ax.imshow(weights.cpu().float().numpy(), cmap="Reds", vmin=0.0, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(src)), src, rotation=90, fontsize=6)
    ax.set_yticks(range(len(tgt)), tgt, fontsize=6)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    ax.set_title(title, fontsize=8)
    return image


def _heatmaps(cfg: TranslationConfig, ctx: RunContext, data: TranslationData, model: nn.Module,
              beam_ids: list[list[int]]) -> None:
    """Bahdanau: one heatmap per sentence; Transformer: one panel per head of the last decoder layer."""
    if not hasattr(model, "attention_map"):
        return
    for k, row in enumerate(_heatmap_rows(data, beam_ids, cfg.heatmaps), 1):
        hyp = beam_ids[row][: 2 * cfg.num_steps]
        weights = model.attention_map(*_attention_inputs(data, row, hyp, ctx.device))[0]
        src, tgt = _labels(data, row, hyp)
        size = (0.25 * len(src) + 1.5, 0.22 * len(tgt) + 1.5)
        vmax = max(float(weights.max()), 1e-6)
        if weights.dim() == 2:                                          # (T, S): Bahdanau
            fig, axes = new_figure(size=size)
            image = _draw(axes[0][0], weights, src, tgt, "Bahdanau attention", vmax)
        else:                                                           # (layers, heads, T, S): Transformer
            heads = weights[-1]
            vmax = max(float(heads.max()), 1e-6)                        # one colour scale for all heads
            fig, axes = new_figure(ncols=len(heads), size=size)
            for h, ax in enumerate(axes[0]):
                image = _draw(ax, heads[h], src, tgt, f"last decoder layer, head {h + 1}", vmax)
        fig.colorbar(image, ax=list(axes[0]), shrink=0.8)
        fig.suptitle(f"test pair {row + 1}: cross-attention weights")
        ctx.save_figure(fig, f"attention-{k}")


# ---- the experiments -----------------------------------------------------------------------------

def _save_for_translate(ctx: RunContext, data: TranslationData, kind: str, args: dict[str, Any],
                        settings: DecodeSettings) -> None:
    """Preprocessing (with any subword models) and ``translation.json`` into the run directory,
    by process 0 alone (the run's files are process 0's, see :meth:`RunContext.open`)."""
    ctx.open()
    if ctx.world.is_main:
        data.prep.save(ctx.out_dir)
        save_translation(ctx.out_dir, kind, args, settings)


def _run(kind: str, cfg: Any, ctx: RunContext) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:   # subword models land in the run directory once it opens
        data = _data(cfg, ctx, Path(scratch))
        torch.manual_seed(cfg.seed)
        args = cfg.model_args()
        model = build_model(kind, len(data.src_vocab), len(data.tgt_vocab), args).to(ctx.device)
        _save_for_translate(ctx, data, kind, args, _settings(cfg))
    history = _train(cfg, ctx, data, model)
    train_tokens = int(data.train.tgt_len.sum())
    results = _evaluate(cfg, ctx, data, model)
    beam_ids = results.pop("_beam_ids")
    _heatmaps(cfg, ctx, data, model, beam_ids)
    last = history[-1] if history else {}
    speed = training_utilisation(ctx, model, data, train_tokens * len(history),
                                 sum(r["train_seconds"] for r in history))
    return {**{k: results[k] for k in ("bleu", "bleu_greedy", "chrf", "chrf_greedy")},
            "train_tokens_per_s": tokens_per_second(history, train_tokens), **speed,
            "train_seconds": sum(r["train_seconds"] for r in history),
            "train_loss": last.get("train_loss"), "val_loss": last.get("val_loss"),
            **{k: v for k, v in results.items() if k not in ("bleu", "bleu_greedy", "chrf", "chrf_greedy")},
            "train_pairs": len(data.train), "train_target_tokens": train_tokens,
            "src_vocab": len(data.src_vocab), "tgt_vocab": len(data.tgt_vocab),
            "parameters": sum(p.numel() for p in model.parameters()), "pairs_source": data.source}


def seq2seq(cfg: RNNTranslationConfig, ctx: RunContext) -> dict[str, Any]:
    return _run("gru", cfg, ctx)


def seq2seq_attention(cfg: RNNTranslationConfig, ctx: RunContext) -> dict[str, Any]:
    return _run("attention", cfg, ctx)


def transformer(cfg: TransformerTranslationConfig, ctx: RunContext) -> dict[str, Any]:
    return _run("transformer", cfg, ctx)


HEADLINE = ("bleu", "bleu_greedy", "chrf", "train_tokens_per_s")
EXPERIMENTS = [
    Experiment("seq2seq", TOPIC, "GRU encoder–decoder translating English→Spanish verses; greedy and beam BLEU",
               RNNTranslationConfig, seq2seq, headline=HEADLINE),
    Experiment("seq2seq-attention", TOPIC, "GRU decoder with Bahdanau attention; BLEU and attention heatmaps",
               RNNTranslationConfig, seq2seq_attention, headline=HEADLINE),
    Experiment("transformer", TOPIC, "Transformer encoder–decoder with a key/value cache; BLEU, per-head heatmaps",
               TransformerTranslationConfig, transformer, headline=HEADLINE),
]
