"""Chapter 6 — recurrent networks as language models of real text (d2l §9–10).

- ``text-data``: the corpus — characters, words, vocabulary sizes with and without a
  frequency cut-off, the share of ``<unk>`` on the held-out books, Zipf's law for
  unigrams, bigrams and trigrams, and random vs sequential partitioning of the toy
  sequence 0…34 into minibatches.
- ``rnn-scratch``, ``rnn``, ``gru-scratch``, ``gru``, ``lstm-scratch``, ``lstm``,
  ``deep-rnn`` (two stacked LSTM layers): a character-level language model
  (:class:`~divelab.models.rnn_lm.RNNLM`) trained on the training books with truncated
  BPTT (sequential partitioning, the detached state carried across batches) and
  gradient-norm clipping; each epoch reports the held-out books' loss, perplexity
  ``exp(loss)`` and bits per character ``loss / ln 2``. The ``-scratch`` variants use the
  recurrent layers of :mod:`divelab.scratch.rnn`, the clipping of
  :mod:`divelab.scratch.clip` and the hand-written optimiser and schedule. Each run writes
  ``vocab.json`` and ``samples.txt`` (greedy and sampled continuations of fixed prefixes).
- ``birnn``: a bidirectional LSTM trained as if it were a language model, against the
  unidirectional LSTM of the same size (see :data:`BIRNN_NOTE`).

At word level (``--set level=word``) ``test_bpc`` and ``train_bpc`` are bits per word.
Resuming: checkpoints are written at epoch ends, where the carried state is reset anyway,
so a run resumed from one ends exactly as an uninterrupted run; after a Ctrl-C in mid-epoch
the rest of that epoch starts from a zero state (the state is not checkpointed).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import torch
from matplotlib.patches import Rectangle

from divelab import machine
from divelab.analysis.flops import recurrent_macs, utilisation
from divelab.config import OptimConfig, OptimizerName, RunConfig, ScheduleName, setting
from divelab.data.sequence import SequenceLoader
from divelab.data.text import Corpus, load_corpus
from divelab.data.vocab import Vocab, tokenize
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.files import atomic_write_bytes, atomic_write_json
from divelab.models.rnn_lm import (RNNLM, Cell, bits_per_token, generate_many, perplexity,
                                   sequence_cross_entropy)
from divelab.report.figures import new_figure
from divelab.scratch.clip import clip_grad_norm
from divelab.train import evaluate
from divelab.train.callbacks import Callback, EpochEnd, GradClip
from divelab.train.optim import build_optimizer, build_schedule

PREFIXES = ("In the beginning", "And Jesus said", "Blessed are")
TEMPERATURES = (0.0, 0.5, 1.0)  # 0 = greedy
BIRNN_NOTE = ("The bidirectional model's backward direction has read the characters to the right of each "
              "position, including the very one it is asked to predict, so its teacher-forced held-out "
              "perplexity is far below any honest left-to-right model's. When generating there is no right "
              "context (the text does not exist yet), so it has to predict from the left alone — which it "
              "was hardly trained to do — and its samples are worse than the unidirectional LSTM's.")


# ---- text-data ---------------------------------------------------------------------------------

@dataclass
class TextDataConfig(RunConfig):
    """``text``: ``web`` (the World English Bible; ``$DIVELAB_TEXT`` replaces it), ``kjv`` or a
    UTF-8 file. ``min_freq``: the word vocabulary's cut-off (words seen fewer times in the
    training text become ``<unk>``). Nothing is trained: ``epochs``, ``lr`` and
    ``batch_size`` are unused."""

    text: str = "web"
    min_freq: int = setting(5, ge=1)

    def validate(self) -> None:
        super().validate()
        _check_text(self.text)


def _check_text(text: str) -> None:
    if not text.strip():
        raise UserError("text must be web, kjv or the path of a UTF-8 text file; got an empty string")


def unk_share(vocab: Vocab, tokens: list[str]) -> float:
    """The share of ``tokens`` that ``vocab`` maps to ``<unk>`` (0 for no tokens)."""
    if not tokens:
        return 0.0
    return (vocab.encode(tokens) == vocab.unk).double().mean().item()


def ngram_frequencies(tokens: list[str], n: int) -> list[int]:
    """Counts of the distinct n-grams (n consecutive tokens) of ``tokens``, most frequent first."""
    grams = zip(*(tokens[i:] for i in range(n)))
    return sorted(Counter(grams).values(), reverse=True)


def zipf_exponent(freqs: list[int], first: int = 10, last: int = 1000) -> float | None:
    """α of Zipf's law ``n_i ∝ i^(−α)``: minus the least-squares slope of log n_i on log i.

    Fitted over ranks ``first … last`` (the top few words and the long tail of words seen
    once bend away from the line), narrowed to the whole range for a small vocabulary;
    None when fewer than three ranks remain.
    """
    if len(freqs) < 3 * first:
        first = 1
    ranks = torch.arange(first, min(last, len(freqs)) + 1, dtype=torch.float64)
    if len(ranks) < 3:
        return None
    x = ranks.log()
    y = torch.tensor(freqs[first - 1:first - 1 + len(ranks)], dtype=torch.float64).log()
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    return -slope.item()


def partition_table(partition: Literal["random", "sequential"], length: int = 35, batch_size: int = 2,
                    num_steps: int = 5, seed: int = 0) -> list[dict[str, list[list[int]]]]:
    """The batches (``x`` and ``y`` as lists) of the toy sequence ``0 … length−1`` in epoch 1, as d2l shows them."""
    loader = SequenceLoader(torch.arange(length), batch_size, num_steps, partition, seed=seed)
    return [{"x": x.tolist(), "y": y.tolist()} for x, y in loader.batches(1)]


def text_data(cfg: TextDataConfig, ctx: RunContext) -> dict[str, Any]:
    corpus = load_corpus(cfg.text)
    chars = {split: tokenize(getattr(corpus, split), "char") for split in ("train", "test")}
    words = {split: tokenize(getattr(corpus, split), "word") for split in ("train", "test")}
    char_vocab, word_vocab = Vocab(chars["train"]), Vocab(words["train"])
    cut_vocab = Vocab(words["train"], min_freq=cfg.min_freq)
    freqs = {n: ngram_frequencies(words["train"], n) for n in (1, 2, 3)}
    partitions = {p: partition_table(p, seed=cfg.seed) for p in ("random", "sequential")}
    alpha = zipf_exponent(freqs[1])
    _zipf_figure(ctx, freqs, corpus.name, alpha)
    _partition_figure(ctx, partitions)
    return {
        "text": corpus.name, "source": corpus.source, "test_books": list(corpus.test_books),
        "train_chars": len(corpus.train), "test_chars": len(corpus.test),
        "train_words": len(words["train"]), "test_words": len(words["test"]),
        "char_vocab": len(char_vocab), "word_vocab": len(word_vocab), "word_vocab_cut": len(cut_vocab),
        "min_freq": cfg.min_freq,
        "test_unk_char": unk_share(char_vocab, chars["test"]),
        "test_unk_word": unk_share(word_vocab, words["test"]),
        "test_unk_word_cut": unk_share(cut_vocab, words["test"]),
        "train_unk_word_cut": unk_share(cut_vocab, words["train"]),
        "top_words": [list(tc) for tc in word_vocab.token_freqs[:10]],
        "top_chars": [list(tc) for tc in char_vocab.token_freqs[:10]],
        "zipf_exponent": alpha,
        "distinct_bigrams": len(freqs[2]), "distinct_trigrams": len(freqs[3]),
        "partitions": partitions,
    }


def _zipf_figure(ctx: RunContext, freqs: dict[int, list[int]], name: str, alpha: float | None) -> None:
    fig, axes = new_figure(size=(5.0, 3.8))
    ax = axes[0][0]
    for n, label in ((1, "unigrams"), (2, "bigrams"), (3, "trigrams")):
        ax.plot(range(1, len(freqs[n]) + 1), freqs[n], label=f"{label} ({len(freqs[n]):,} distinct)")
    if alpha is not None:  # the fitted law, through the unigram curve at rank 100 (or the last rank)
        anchor = min(100, len(freqs[1]))
        ranks = torch.logspace(0, math.log10(len(freqs[1])), 50, dtype=torch.float64)
        ax.plot(ranks, freqs[1][anchor - 1] * (ranks / anchor) ** -alpha, "k--", linewidth=0.8,
                label=f"n ∝ i^−{alpha:.2f} (fit)")
    ax.set(xscale="log", yscale="log", xlabel="rank i", ylabel="frequency n_i",
           title=f"Zipf's law on the {name} training words")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "zipf")


def _partition_figure(ctx: RunContext, partitions: dict[str, list[dict[str, list[list[int]]]]]) -> None:
    """Where each token of 0…34 lands: one line per batch, the cells of row 0 and row 1 coloured apart."""
    fig, axes = new_figure(ncols=2, size=(5.5, 2.6))
    for ax, (name, batches) in zip(axes[0], partitions.items()):
        for i, batch in enumerate(batches):
            for row, tokens in enumerate(batch["x"]):
                for token in tokens:
                    ax.add_patch(_cell(token, i, f"C{row}"))
                    ax.text(token + 0.5, i + 0.5, str(token), ha="center", va="center", fontsize=6)
        ax.set(xlim=(0, 35), ylim=(len(batches), 0), xlabel="position in the sequence 0…34",
               ylabel="batch", title=f"{name}: x of each batch (colour = row)")
        ax.set_yticks([i + 0.5 for i in range(len(batches))], [str(i + 1) for i in range(len(batches))])
    ctx.save_figure(fig, "partitions")


def _cell(x: int, y: int, colour: str) -> Rectangle:
    return Rectangle((x, y + 0.1), 1, 0.8, facecolor=colour, alpha=0.35, edgecolor="white")


# ---- language models ---------------------------------------------------------------------------

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
        _check_text(self.text)


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


@dataclass
class LargeLMConfig(LMConfig):
    """One LSTM layer of 512 units, 5 epochs at lr 0.005: about 4 times the arithmetic per
    character of ``lstm``, meant for a CPU that computes bf16 in hardware (``precision=auto``
    trains it in bf16 there; see the README for the measured time and parity with fp32)."""

    epochs: int = 5
    lr: float = 0.005
    hidden_size: int = 512


@dataclass
class BiRNNConfig(LMConfig):
    """Both models (uni- and bidirectional LSTM) with these settings, on random partitions
    (a bidirectional model cannot carry its state, so neither does the other); kept short:
    one epoch of the first 500 k characters, 128 units. Measured so (one shared thread,
    34 s of training): held-out bits per character 2.56 (LSTM) vs 0.10 (BiLSTM), yet 87 %
    vs 75 % of the generated words are words of the training text, and the BiLSTM's greedy
    continuation is "the the the …"."""

    epochs: int = 1
    hidden_size: int = 128
    max_chars: int = 500_000
    partition: Literal["random", "sequential"] = "random"


@dataclass
class LMData:
    """The tokenised corpus of a language-model run and its loaders."""

    corpus: Corpus
    vocab: Vocab
    train: SequenceLoader
    test: SequenceLoader
    train_text: str


def prepare(cfg: LMConfig, device: torch.device) -> LMData:
    """Load and tokenise the text, build the vocabulary on the training part, make the loaders.

    The test loader is sequential (the state carried through each row) with ``batch_size``
    rows, or fewer if the test text is too short for that many.
    """
    corpus = load_corpus(cfg.text)
    train_text = corpus.train[:cfg.max_chars] if cfg.max_chars else corpus.train
    tokens = tokenize(train_text, cfg.level)
    vocab = Vocab(tokens, min_freq=cfg.min_freq)
    test_ids = vocab.encode(tokenize(corpus.test, cfg.level))
    # a short test text is read in fewer (longer) rows: one batch needs T·(B + 1) tokens
    test_batch = max(1, min(cfg.batch_size, len(test_ids) // cfg.num_steps - 1))
    loaders = []
    for split, ids, batch_size, partition in (("training", vocab.encode(tokens), cfg.batch_size, cfg.partition),
                                              ("test", test_ids, test_batch, "sequential")):
        try:
            loaders.append(SequenceLoader(ids, batch_size, cfg.num_steps, partition, seed=cfg.seed, device=device))
        except ValueError as exc:
            raise UserError(f"the {split} text of {corpus.name!r} ({len(ids):,} {cfg.level} tokens) is too short "
                            f"for one batch of batch_size × num_steps = {batch_size} × {cfg.num_steps} "
                            f"({exc}); lower them or use a longer text") from None
    return LMData(corpus, vocab, loaders[0], loaders[1], train_text)


def _bits(trainer: Any, record: dict[str, Any]) -> None:
    """Add perplexity and bits per token to an epoch's record."""
    record["train_bpc"] = bits_per_token(record["train_loss"])
    if "test_loss" in record:
        record["test_ppl"] = perplexity(record["test_loss"])
        record["test_bpc"] = bits_per_token(record["test_loss"])


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
    callbacks.append(EpochEnd(_bits))
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


def _samples_text(runs: dict[str, dict[str, dict[str, str]]]) -> str:
    lines = []
    for label, by_prefix in runs.items():
        for prefix, texts in by_prefix.items():
            lines.append(f"=== {label}{': ' if label else ''}{prefix!r} ===")
            lines += [f"[{how}] {text}" for how, text in texts.items()] + [""]
    return "\n".join(lines)


def final_metrics(ctx: RunContext, model: torch.nn.Module, data: LMData, cfg: Any,
                  history: list[dict[str, Any]], macs: int | None = None) -> dict[str, Any]:
    """Held-out loss, perplexity and bits per token after training, the last epoch's training bits,
    and the training speed (tokens per second of the batch loops, and the model FLOP utilisation
    from ``macs`` per token, by default :func:`macs_per_token` of a recurrent model)."""
    macs = macs_per_token(model) if macs is None else macs
    test_loss = history[-1]["test_loss"] if history else \
        evaluate(model, data.test, sequence_cross_entropy, classification=False)["loss"]
    tokens_per_epoch = data.train.num_samples * cfg.num_steps
    train_seconds = sum(r["train_seconds"] for r in history)
    held_out = {"perplexity": perplexity(test_loss)}  # the run-directory contract's names (DESIGN.md)
    if cfg.level == "char":
        held_out["bits_per_char"] = bits_per_token(test_loss)
    tokens = len(history) * tokens_per_epoch // ctx.world.world_size  # this process's share
    speed = utilisation(macs, tokens, train_seconds,
                        machine.matmul_peak(str(ctx.device), ctx.precision)) if train_seconds > 0 else {}
    return {"test_loss": test_loss, "test_ppl": perplexity(test_loss), "test_bpc": bits_per_token(test_loss),
            **held_out, "train_bpc": history[-1]["train_bpc"] if history else None,
            "tokens_per_s": len(history) * tokens_per_epoch / train_seconds if train_seconds > 0 else None,
            "epochs_done": len(history), "macs_per_token": macs, **speed}


CELL_GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # weight matrices per layer: tanh cell, GRU's 3 gates, LSTM's 4


def macs_per_token(model: RNNLM) -> int:
    """Multiply–accumulates per token of the model's recurrent layers and head (the same for its scratch
    and library versions; an embedding is a lookup, a one-hot input is counted as the product it is)."""
    inputs = model.embedding.embedding_dim if model.embedding is not None else model.vocab_size
    directions = 2 if model.bidirectional else 1
    return (recurrent_macs(CELL_GATES[model.cell], inputs, model.hidden_size, model.num_layers, model.bidirectional)
            + directions * model.hidden_size * model.vocab_size)


def _write_run_files(ctx: RunContext, data: LMData, text: str) -> None:
    ctx.open()
    if not ctx.world.is_main:  # process 0 alone writes the run's files
        return
    atomic_write_json(ctx.out_dir / "vocab.json", data.vocab.state_dict())
    atomic_write_bytes(ctx.out_dir / "samples.txt", text.encode())


def _lm_experiment(cell: Cell, scratch: bool) -> Any:
    """The run function of a character-level language model with ``cell`` layers (from scratch or torch)."""

    def run(cfg: LMConfig, ctx: RunContext) -> dict[str, Any]:
        data = prepare(cfg, ctx.device)
        model, history = fit_lm(cfg, ctx, data, cell, scratch=scratch)
        generated = samples(model, data, cfg)
        _write_run_files(ctx, data, _samples_text({"": generated}))
        return {**final_metrics(ctx, model, data, cfg, history),
                "cell": cell, "scratch": scratch, "parameters": sum(p.numel() for p in model.parameters()),
                "vocab_size": len(data.vocab), "train_tokens": len(data.train.tensors[0]),
                "test_tokens": len(data.test.tensors[0]), "test_books": list(data.corpus.test_books),
                "samples": generated}

    return run


# ---- birnn -------------------------------------------------------------------------------------

def known_word_share(texts: list[str], words: set[str]) -> float | None:
    """The share of the word tokens of ``texts`` that occur in ``words`` (None if there are none)."""
    tokens = [w for text in texts for w in tokenize(text, "word")]
    return sum(w in words for w in tokens) / len(tokens) if tokens else None


def birnn(cfg: BiRNNConfig, ctx: RunContext) -> dict[str, Any]:
    data = prepare(cfg, ctx.device)
    words = set(tokenize(data.train_text, "word"))
    summary: dict[str, Any] = {"note": BIRNN_NOTE}
    generated_runs = {}
    for name, bidirectional in (("lstm", False), ("birnn", True)):
        model, history = fit_lm(cfg, ctx, data, "lstm", bidirectional=bidirectional, name=name)
        generated = generated_runs[name] = samples(model, data, cfg)
        continuations = [text[len(prefix):] for prefix, texts in generated.items() for text in texts.values()]
        metrics = final_metrics(ctx, model, data, cfg, history)
        summary |= {f"{key}_{name}": metrics[key] for key in ("test_ppl", "test_bpc", "train_bpc")}
        summary[f"known_words_{name}"] = known_word_share(continuations, words)
        summary[f"samples_{name}"] = generated
    _write_run_files(ctx, data, _samples_text(generated_runs))
    _birnn_figure(ctx, summary)
    return summary


def _birnn_figure(ctx: RunContext, summary: dict[str, Any]) -> None:
    fig, axes = new_figure(ncols=2, size=(3.6, 3.2))
    names = ("lstm", "birnn")
    for ax, key, title in ((axes[0][0], "test_bpc", "held-out bits per character\n(teacher forcing)"),
                           (axes[0][1], "known_words", "generated words found\nin the training text")):
        values = [summary[f"{key}_{n}"] or 0.0 for n in names]
        ax.bar(names, values, color=["C0", "C3"])
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    ctx.save_figure(fig, "birnn")


def _experiment(name: str, cell: Cell, scratch: bool, config: type[LMConfig], what: str,
                bf16: bool = False) -> Experiment:
    return Experiment(name, "rnn", what, config, _lm_experiment(cell, scratch),
                      headline=("test_bpc", "test_ppl", "tokens_per_s"), bf16=bf16)


EXPERIMENTS = [
    Experiment("text-data", "rnn",
               "The Bible as a corpus: sizes, vocabularies, <unk>, Zipf's law, random vs sequential minibatches",
               TextDataConfig, text_data, headline=("train_chars", "test_chars", "char_vocab", "word_vocab")),
    _experiment("rnn-scratch", "rnn", True, ScratchRNNGRUConfig, "Character-level language model, RNN from scratch"),
    _experiment("rnn", "rnn", False, RNNGRUConfig, "Character-level language model with nn.RNN"),
    _experiment("gru-scratch", "gru", True, ScratchRNNGRUConfig, "Character-level language model, GRU from scratch"),
    _experiment("gru", "gru", False, RNNGRUConfig, "Character-level language model with nn.GRU"),
    _experiment("lstm-scratch", "lstm", True, ScratchLMConfig, "Character-level language model, LSTM from scratch"),
    _experiment("lstm", "lstm", False, LMConfig, "Character-level language model with nn.LSTM"),
    _experiment("deep-rnn", "lstm", False, DeepLMConfig, "Character-level language model, two stacked LSTM layers"),
    _experiment("lstm-large", "lstm", False, LargeLMConfig,
                "Character-level language model, one LSTM layer of 512 units (bf16 where the CPU is fast at it)"),
    Experiment("birnn", "rnn",
               "A bidirectional LSTM as a language model: impossibly low perplexity, poor generated text",
               BiRNNConfig, birnn, headline=("test_bpc_lstm", "test_bpc_birnn", "known_words_lstm",
                                             "known_words_birnn")),
]

__all__ = ["EXPERIMENTS", "LMConfig", "TextDataConfig", "fit_lm", "prepare"]
