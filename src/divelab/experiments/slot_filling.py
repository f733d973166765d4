"""Chapter 6 — recurrent networks as taggers: slot filling on generated travel requests.

The lecture's example: in "arrive Taipei on November 2nd" a slot-filling system tags
*Taipei* as the destination and *November 2nd* as the arrival date. The data is
:mod:`divelab.data.travel` (templates × lexicons, BIO tags); it is scored on a test split
whose templates and city names never occur in training, so most city words there are
``<unk>`` and only the context can tell an origin from a destination. The score is exact-span
precision/recall/F1 (:mod:`divelab.analysis.spans`), per slot and micro-averaged, also on
``test_seen`` (the held-out templates with training cities).

- ``slot-filling``: a unidirectional and a bidirectional tagger (:class:`RNNTagger`, the same
  ``cell`` and ``hidden_size`` per direction, so the bidirectional one has more weights) on
  the same data and steps. A left-to-right tagger labels a word before it has read what
  follows: in the held-out "seoul to pune tomorrow" only the later "to" says that *seoul* is
  the origin; the bidirectional tagger reads it, the unidirectional one cannot.
- ``elman-jordan``: the hand-written Elman network (hidden state fed back), the Jordan network
  (output distribution fed back) and ``nn.RNN`` (Elman's recurrence, PyTorch's kernel) as
  unidirectional taggers with the same sizes and steps: F1 and training seconds.

Training: Adam (lr 0.005), cross-entropy over the valid (non-padding) positions, and
frequency-based word dropout: a training word ``w`` becomes ``<unk>`` with probability
``α / (α + count(w))``, so ``<unk>`` learns to stand for a rare word — which, in these
requests, is mostly a city. Each model is trained ``repeats`` times (3 seeds) and the
headline numbers are means. After each epoch the record gets ``val_f1`` (micro F1 on the
validation split, its own templates and cities). The trainer's ``val_loss`` weights each
batch by its sentences, not its words.

Measured at the defaults (4,000 training sentences, 10 epochs, 64-unit GRU/RNN, 3 seeds;
one process with ``OMP_NUM_THREADS=1`` on a 2-core machine other jobs were also using):

- ``slot-filling``: micro F1 on unseen templates and cities 0.948 unidirectional
  (0.943–0.952) vs 0.967 bidirectional (0.961–0.976); on the same templates with training
  cities 0.957 vs 0.987. The gain is in ``origin`` (0.88 → 0.96); dates, times and airlines are
  ≥ 0.98 for both. Training 8 s (uni) and 25 s (bi) per model; 115 s wall in all.
  Without word dropout (``word_dropout_alpha=0``) the unseen cities cost much more: 0.850
  (0.810–0.875) vs 0.915 (0.865–0.957), while test_seen hardly moves (0.945 vs 0.988).
- ``elman-jordan``: micro F1 0.919 Elman (0.909–0.925), 0.625 Jordan (0.614–0.638), 0.943
  ``nn.RNN`` (0.930–0.961). Elman and ``nn.RNN`` compute the same function (the twin test),
  they differ in initial weights and in nn.RNN's second bias vector, and their gap is about
  the spread between seeds. Jordan's only memory is the previous tag distribution, and after
  "from" and after "to" it is nearly the same (``O``), so the word before a city is all but
  lost: it finds no origin among the unseen cities (origin F1 0.0, 0.40 with training
  cities) and tags them ``dest``. Training ≈ 9–10 s per model for
  all three: the Python loop over ≤ 19 time steps costs about what the packed nn.RNN does at
  this size. 104 s wall in all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from matplotlib.ticker import MaxNLocator
from torch import nn

from divelab.analysis.spans import Counts, SpanScores, bio_spans, span_scores
from divelab.config import OptimConfig, OptimizerName, setting
from divelab.data import TensorLoader
from divelab.data.travel import SLOTS, TAGS, TaggedSplit, TravelCorpus, load_travel
from divelab.experiment import Experiment, RunContext
from divelab.models.tagger import Cell, ElmanRNN, JordanRNN, RNNTagger, frequency_dropout, tagging_loss
from divelab.report.figures import new_figure
from divelab.train.optim import build_optimizer, build_schedule

EVAL_BATCH = 512
NUM_EXAMPLES = 8  # test sentences shown in the summary


@dataclass
class TaggingConfig(OptimConfig):
    """Corpus size, tagger size and training of a slot-filling experiment.

    ``num_train`` training sentences; ``num_eval`` in each of validation, test (held-out
    templates and cities) and test_seen (held-out templates, training cities). While
    training, word ``w`` becomes ``<unk>`` with probability ``α / (α + count(w))``,
    α = ``word_dropout_alpha`` (0 turns word dropout off). Each model is trained ``repeats``
    times (seeds ``seed``, ``seed + 1``, …; the corpus is always the one of ``seed``) and the
    headline scores are means over these trainings.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.005
    optimizer: OptimizerName = "adam"
    num_train: int = setting(4000, ge=1)
    num_eval: int = setting(1000, ge=1)
    embed_size: int = setting(64, ge=1)
    hidden_size: int = setting(64, ge=1)
    word_dropout_alpha: float = setting(5.0, ge=0, note="0: no word dropout")
    repeats: int = setting(3, ge=1)


@dataclass
class SlotFillingConfig(TaggingConfig):
    """``cell`` is the recurrent layer of both taggers (rnn, gru or lstm)."""

    cell: Cell = "gru"


# ---- training and scoring ------------------------------------------------------------------

@torch.inference_mode()
def predict(model: nn.Module, split: TaggedSplit, device: torch.device) -> list[list[str]]:
    """The model's argmax tag for every word of every sentence of ``split``."""
    was_training = model.training
    model.eval()
    tags: list[list[str]] = []
    for start in range(0, len(split), EVAL_BATCH):
        ids = split.ids[start:start + EVAL_BATCH].to(device)
        best = model(ids).argmax(-1).cpu()  # (B, T)
        lengths = split.lengths[start:start + EVAL_BATCH].tolist()
        tags += [[TAGS[i] for i in row[:n].tolist()] for row, n in zip(best, lengths)]
    model.train(was_training)
    return tags


def score(model: nn.Module, split: TaggedSplit, device: torch.device) -> SpanScores:
    """Exact-span scores of ``model``'s tags on ``split``."""
    return span_scores(split.tag_names, predict(model, split, device))


def _val_f1(split: TaggedSplit, device: torch.device) -> Callable[[Any, dict[str, Any]], None]:
    def add_val_f1(trainer: Any, record: dict[str, Any]) -> None:
        record["val_f1"] = score(trainer.model, split, device).micro.f1
    return add_val_f1


def train_tagger(cfg: TaggingConfig, ctx: RunContext, corpus: TravelCorpus, name: str,
                 build: Callable[[], nn.Module], seed: int) -> dict[str, Any]:
    """Train ``build()`` (called right after ``torch.manual_seed(seed)``) as the sub-run
    ``name``, shuffling with ``seed``; its scores on test and test_seen, seconds and history."""
    train = TensorLoader(corpus.train.ids, corpus.train.tags, batch_size=cfg.batch_size, shuffle=True,
                         seed=seed, device=ctx.device)
    val = TensorLoader(corpus.val.ids, corpus.val.tags, batch_size=EVAL_BATCH, device=ctx.device)
    torch.manual_seed(seed)
    model = build().to(ctx.device)
    optimizer = build_optimizer(cfg, model.parameters())
    trainer = ctx.trainer(model, tagging_loss, optimizer, train, val_loader=val, classification=False,
                          callbacks=[_val_f1(corpus.val, ctx.device)], name=name,
                          scheduler=build_schedule(cfg, optimizer, len(train)))
    history = ctx.fit(trainer, curves=False)
    return {"model": model, "history": history, "test": score(model, corpus.test, ctx.device),
            "test_seen": score(model, corpus.test_seen, ctx.device),
            "train_seconds": sum(r["train_seconds"] for r in history),
            "params": sum(p.numel() for p in model.parameters())}


def train_repeats(cfg: TaggingConfig, ctx: RunContext, corpus: TravelCorpus, name: str,
                  build: Callable[[], nn.Module]) -> list[dict[str, Any]]:
    """``cfg.repeats`` trainings of ``build()`` with seeds ``seed``, ``seed + 1``, … (sub-runs
    ``NAME-sSEED``): other initial weights, batch order and word dropout, the same corpus."""
    return [train_tagger(cfg, ctx, corpus, f"{name}-s{seed}", build, seed)
            for seed in range(cfg.seed, cfg.seed + cfg.repeats)]


def _word_dropout(cfg: TaggingConfig, corpus: TravelCorpus) -> torch.Tensor:
    """Per-word dropout rates from the training counts (:func:`frequency_dropout`)."""
    return frequency_dropout(corpus.word_counts, cfg.word_dropout_alpha)


def bracketed(words: list[str], tags: list[str]) -> str:
    """``"fly to [dest: new york] [time: 5 pm]"``: the words with their spans marked."""
    pieces = list(words)
    for label, start, end in reversed(bio_spans(tags)):
        pieces[start:end] = [f"[{label}: {' '.join(words[start:end])}]"]
    return " ".join(pieces)


def _examples(corpus: TravelCorpus, predictions: dict[str, list[list[str]]]) -> list[dict[str, str]]:
    """Test sentences with gold and predicted spans: half of them where the models disagree."""
    split = corpus.test
    names = list(predictions)
    disagree = [i for i in range(len(split)) if any(predictions[n][i] != predictions[names[0]][i] for n in names)]
    chosen = (disagree[:NUM_EXAMPLES // 2] + [i for i in range(len(split)) if i not in disagree])[:NUM_EXAMPLES]
    return [{"gold": bracketed(split.words[i], split.tag_names[i]),
             **{n: bracketed(split.words[i], predictions[n][i]) for n in names}} for i in sorted(chosen)]


def _f1(scores: SpanScores, slot: str) -> float:
    return scores.micro.f1 if slot == "micro" else scores.per_label.get(slot, Counts()).f1


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _rows(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per model and slot (plus ``micro``): test precision, recall, F1 (mean over the
    repeats, and the F1's range) and test_seen F1 (mean)."""
    rows = []
    for name, trials in runs.items():
        for slot in (*SLOTS, "micro"):
            counts = [t["test"].micro if slot == "micro" else t["test"].per_label.get(slot, Counts()) for t in trials]
            f1 = [c.f1 for c in counts]
            rows.append({"model": name, "slot": slot, "precision": _mean([c.precision for c in counts]),
                         "recall": _mean([c.recall for c in counts]), "f1": _mean(f1), "f1_min": min(f1),
                         "f1_max": max(f1), "f1_seen": _mean([_f1(t["test_seen"], slot) for t in trials]),
                         "support": counts[0].support})
    return rows


# ---- figures -------------------------------------------------------------------------------

def _figure(ctx: RunContext, runs: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]], title: str,
            name: str) -> None:
    """Per-slot F1 bars (solid: unseen cities, hatched: training cities; whiskers: range over
    the repeats) and validation F1 per epoch of every training."""
    fig, axes = new_figure(ncols=2, size=(5.2, 3.8))
    bars, curves = axes[0]
    groups = (*SLOTS, "micro")
    width = 0.8 / len(runs)
    for k, (model, trials) in enumerate(runs.items()):
        x = [i + (k - (len(runs) - 1) / 2) * width for i in range(len(groups))]
        mine = [r for r in rows if r["model"] == model]
        f1 = [r["f1"] for r in mine]
        spread = [[r["f1"] - r["f1_min"] for r in mine], [r["f1_max"] - r["f1"] for r in mine]]
        bars.bar(x, [r["f1_seen"] for r in mine], width, color=f"C{k}", alpha=0.3, hatch="//", edgecolor=f"C{k}")
        bars.bar(x, f1, width, color=f"C{k}", label=model, yerr=spread if len(trials) > 1 else None, capsize=2)
        seconds = _mean([t["train_seconds"] for t in trials])
        for j, trial in enumerate(trials):
            history = trial["history"]
            curves.plot([r["epoch"] for r in history], [r["val_f1"] for r in history], marker="o", markersize=2,
                        color=f"C{k}", alpha=0.7, label=f"{model} ({seconds:.0f} s training)" if j == 0 else None)
    lowest = min(min(r["f1_min"], r["f1_seen"]) for r in rows)
    bottom = max(0.0, math.floor((lowest - 0.05) * 10) / 10)  # zoom in: the differences are a few points
    bars.set_xticks(range(len(groups)), groups)
    bars.set(ylim=(bottom, 1.02), ylabel="F1 (exact spans)" + (f", axis from {bottom:.1f}" if bottom else ""),
             title="test F1: held-out templates, unseen cities\n(hatched: same templates, training cities)")
    curves.set(xlabel="epoch", ylabel="micro F1", title="validation F1 (its own templates and cities)")
    curves.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (bars, curves):
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    ctx.save_figure(fig, name)


# ---- the experiments -----------------------------------------------------------------------

def _report(ctx: RunContext, corpus: TravelCorpus, runs: dict[str, list[dict[str, Any]]], title: str,
            name: str) -> dict[str, Any]:
    """Figure and summary: headline numbers are means over the repeats (``…_runs``: each one)."""
    rows = _rows(runs)
    _figure(ctx, runs, rows, title, name)
    headline: dict[str, Any] = {}
    for model, trials in runs.items():
        key = model.replace("-", "_")
        micro = next(r for r in rows if r["model"] == model and r["slot"] == "micro")
        headline[f"f1_{key}"] = micro["f1"]
        headline[f"f1_seen_{key}"] = micro["f1_seen"]
        headline[f"f1_{key}_runs"] = [t["test"].micro.f1 for t in trials]
        headline[f"val_f1_{key}"] = _mean([t["history"][-1]["val_f1"] if t["history"] else 0.0 for t in trials])
        headline[f"train_seconds_{key}"] = _mean([t["train_seconds"] for t in trials])
        headline[f"params_{key}"] = trials[0]["params"]
    predictions = {model: predict(trials[0]["model"], corpus.test, ctx.device) for model, trials in runs.items()}
    sizes = {f"{split}_sentences": len(getattr(corpus, split)) for split in ("train", "val", "test", "test_seen")}
    return {**headline, "rows": rows, **sizes, "vocab_size": len(corpus.vocab),
            "test_cities": list(corpus.cities["test"]), "examples": _examples(corpus, predictions)}


def slot_filling(cfg: SlotFillingConfig, ctx: RunContext) -> dict[str, Any]:
    corpus = load_travel(cfg.num_train, cfg.num_eval, cfg.seed)
    runs = {}
    for name, bidirectional in (("uni", False), ("bi", True)):
        runs[name] = train_repeats(cfg, ctx, corpus, name, lambda b=bidirectional: RNNTagger(
            len(corpus.vocab), len(TAGS), cfg.cell, cfg.embed_size, cfg.hidden_size, b,
            pad_id=corpus.pad_id, unk_id=corpus.vocab.unk, word_dropout=_word_dropout(cfg, corpus)))
    return _report(ctx, corpus, runs, f"slot filling: unidirectional vs bidirectional {cfg.cell.upper()} tagger",
                   "slot-filling")


def elman_jordan(cfg: TaggingConfig, ctx: RunContext) -> dict[str, Any]:
    corpus = load_travel(cfg.num_train, cfg.num_eval, cfg.seed)
    sizes = (len(corpus.vocab), len(TAGS))
    common = {"pad_id": corpus.pad_id, "unk_id": corpus.vocab.unk, "word_dropout": _word_dropout(cfg, corpus)}
    builders: dict[str, Callable[[], nn.Module]] = {
        "elman": lambda: ElmanRNN(*sizes, cfg.embed_size, cfg.hidden_size, **common),
        "jordan": lambda: JordanRNN(*sizes, cfg.embed_size, cfg.hidden_size, **common),
        "torch-rnn": lambda: RNNTagger(*sizes, "rnn", cfg.embed_size, cfg.hidden_size, False, **common),
    }
    runs = {name: train_repeats(cfg, ctx, corpus, name, build) for name, build in builders.items()}
    return _report(ctx, corpus, runs, "Elman (state fed back) vs Jordan (output fed back) vs nn.RNN",
                   "elman-jordan")


EXPERIMENTS = [
    Experiment("slot-filling", "rnn",
               "uni- vs bidirectional RNN tagger on generated travel requests: per-slot F1 on held-out "
               "templates with unseen cities",
               SlotFillingConfig, slot_filling, headline=("f1_uni", "f1_bi", "f1_seen_uni", "f1_seen_bi")),
    Experiment("elman-jordan", "rnn",
               "Elman vs Jordan network (and nn.RNN) as slot-filling taggers: F1 and training time",
               TaggingConfig, elman_jordan,
               headline=("f1_elman", "f1_jordan", "f1_torch_rnn", "train_seconds_elman", "train_seconds_jordan",
                         "train_seconds_torch_rnn")),
]
