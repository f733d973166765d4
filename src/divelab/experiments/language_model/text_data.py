"""``text-data`` (d2l §9.2–9.3): the corpus — characters, words, vocabulary sizes with and
without a frequency cut-off, the share of ``<unk>`` on the held-out books, Zipf's law for
unigrams, bigrams and trigrams, and random vs sequential partitioning of the toy sequence
0…34 into minibatches. Nothing is trained."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import torch
from matplotlib.patches import Rectangle

from divelab.config import RunConfig, setting
from divelab.data.sequence import SequenceLoader
from divelab.data.text import load_corpus
from divelab.data.vocab import Vocab, tokenize
from divelab.experiment import Experiment, RunContext
from divelab.experiments.language_model.common import check_text
from divelab.report.figures import new_figure


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
        check_text(self.text)


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
    """The run function of ``text-data``: the corpus statistics as the summary, the Zipf and partition figures."""
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


EXPERIMENTS = [
    Experiment("text-data", "rnn",
               "The Bible as a corpus: sizes, vocabularies, <unk>, Zipf's law, random vs sequential minibatches",
               TextDataConfig, text_data, headline=("train_chars", "test_chars", "char_vocab", "word_vocab")),
]
