"""``text-data`` on the fake text, and its statistics: n-gram counts, the <unk> share, Zipf's exponent."""

from __future__ import annotations

import pytest
import torch

import divelab
from divelab.data.text import load_corpus
from divelab.data.vocab import Vocab, tokenize
from divelab.experiments.language_model.text_data import ngram_frequencies, unk_share, zipf_exponent


def test_text_data_statistics(fake_text, tmp_path):
    result = divelab.run("text-data", out=tmp_path / "t", progress=False, min_freq=50)
    s = result.summary
    corpus = load_corpus()
    words = tokenize(corpus.train, "word")
    assert (s["train_chars"], s["test_chars"], s["train_words"]) == (len(corpus.train), len(corpus.test), len(words))
    assert s["char_vocab"] == 1 + len(set(corpus.train)) and s["word_vocab"] == 1 + len(set(words))
    assert s["word_vocab_cut"] == 1 + sum(c >= 50 for c in __import__("collections").Counter(words).values())
    assert s["word_vocab_cut"] < s["word_vocab"]
    assert 0 < s["train_unk_word_cut"] < 1 and s["test_unk_word"] <= s["test_unk_word_cut"]
    assert s["top_words"][0][1] >= s["top_words"][1][1]
    assert s["distinct_trigrams"] >= s["distinct_bigrams"] >= s["word_vocab"] - 1 - 2
    assert {p.name for p in result.figures} == {"zipf.png", "partitions.png"}


def test_text_data_shows_both_partitions_of_the_toy_sequence(fake_text, tmp_path):
    parts = divelab.run("text-data", out=tmp_path / "t", progress=False).summary["partitions"]
    for batches in parts.values():
        for b in batches:
            x, y = torch.tensor(b["x"]), torch.tensor(b["y"])
            assert x.shape == (2, 5) and torch.equal(y, x + 1)  # targets: the next token of 0…34
            assert torch.equal(x[:, 1:] - x[:, :-1], torch.ones(2, 4, dtype=torch.int64))
    seq = [torch.tensor(b["x"]) for b in parts["sequential"]]
    for before, after in zip(seq, seq[1:]):
        assert torch.equal(after[:, 0], before[:, -1] + 1)  # each row continues where it stopped


def test_zipf_exponent_recovers_a_power_law():
    freqs = [round(1e7 / i ** 1.3) for i in range(1, 3001)]
    assert zipf_exponent(freqs) == pytest.approx(1.3, abs=1e-3)
    assert zipf_exponent([5, 3]) is None


def test_ngram_counts_and_unk_share():
    tokens = "a b a b a c".split()
    assert ngram_frequencies(tokens, 1) == [3, 2, 1]
    assert ngram_frequencies(tokens, 2) == [2, 2, 1]  # (a b) twice, (b a) twice, (a c) once
    assert ngram_frequencies(tokens, 3) == [2, 1, 1]
    vocab = Vocab(tokens, min_freq=2)
    assert unk_share(vocab, ["a", "c", "z", "b"]) == 0.5 and unk_share(vocab, []) == 0.0
