"""The language-model experiments end to end on the fake text: files, units, resume, settings;
and the text-data statistics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import divelab
from divelab.data.text import load_corpus
from divelab.data.vocab import Vocab, tokenize
from divelab.errors import UserError
from divelab.experiments.language_model import (PREFIXES, known_word_share, ngram_frequencies, unk_share,
                                                zipf_exponent)

TINY = {"hidden_size": 16, "embed_size": 8, "num_steps": 8, "batch_size": 4, "max_chars": 3000,
        "sample_tokens": 12}
# every cell, scratch and torch, one and two layers (the registry test runs all of them once more)
LMS = ["rnn-scratch", "gru", "lstm-scratch", "deep-rnn"]


def records(directory: Path, name: str = "") -> list[dict]:
    path = directory / (f"metrics-{name}.jsonl" if name else "metrics.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_units(r: dict, suffix: str = "") -> None:
    """perplexity = e^loss, bits = loss / ln 2, hence bits = log2(perplexity)."""
    loss = r[f"test_loss{suffix}"] if f"test_loss{suffix}" in r else math.log(r[f"test_ppl{suffix}"])
    assert r[f"test_ppl{suffix}"] == pytest.approx(math.exp(loss))
    assert r[f"test_bpc{suffix}"] == pytest.approx(loss / math.log(2))
    assert r[f"test_bpc{suffix}"] == pytest.approx(math.log2(r[f"test_ppl{suffix}"]))


@pytest.mark.parametrize("name", LMS)
def test_each_language_model_trains_and_writes_its_files(name, fake_text, tmp_path):
    out = tmp_path / name
    s = divelab.run(name, epochs=1, out=out, progress=False, **TINY).summary
    assert s["epochs_done"] == 1 and s["train_tokens"] == 3000 and s["tokens_per_s"] > 0
    assert s["scratch"] == name.endswith("-scratch") and s["seconds"] > 0
    check_units(s)
    (record,) = records(out)
    check_units(record)
    assert s["test_loss"] == record["test_loss"]
    assert s["train_bpc"] == pytest.approx(record["train_loss"] / math.log(2))
    assert 0 <= record["clipped_fraction"] <= 1  # clipping is on by default
    # utilisation: 6 multiply–accumulates' worth of FLOPs per MAC-per-token, per token trained per second
    assert s["model_gflops_per_s"] * 1e9 == pytest.approx(6 * s["macs_per_token"] * s["tokens_per_s"], rel=1e-6)
    assert s["mfu"] == pytest.approx(s["model_gflops_per_s"] / s["peak_gflops_per_s"]) and 0 < s["mfu"] < 1
    vocab = Vocab.from_state_dict(json.loads((out / "vocab.json").read_text()))
    assert len(vocab) == s["vocab_size"]
    assert set(vocab.idx_to_token[1:]) == set(load_corpus().train[:3000])  # char level, min_freq 1
    text = (out / "samples.txt").read_text()
    for prefix in PREFIXES:
        texts = s["samples"][prefix]
        assert set(texts) == {"greedy", "T=0.5", "T=1"}
        for generated in texts.values():
            assert generated.startswith(prefix) and len(generated) == len(prefix) + 12
            assert generated in text


@pytest.mark.parametrize("cell, embed, layers, bidirectional", [("lstm", 0, 1, False), ("gru", 16, 2, False),
                                                                 ("rnn", 0, 2, True)])
def test_macs_per_token_equals_the_flop_counter_on_the_library_model(cell, embed, layers, bidirectional):
    from divelab.analysis.flops import count_flops
    from divelab.experiments.language_model import macs_per_token
    from divelab.models.rnn_lm import RNNLM

    model = RNNLM(30, cell, 24, layers, embed_size=embed, bidirectional=bidirectional, carry_state=False)
    steps = 7
    counted = count_flops(model, (steps,), dtype=torch.long).macs
    assert macs_per_token(model) * steps == counted
    scratch = RNNLM(30, cell, 24, layers, scratch=True, embed_size=embed, bidirectional=bidirectional,
                    carry_state=False)
    assert macs_per_token(scratch) == macs_per_token(model)  # the same arithmetic, written by hand


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_scratch_runs_train_like_the_library_runs(cell, fake_text, tmp_path):
    """Same seed, same initial weights, twin layers, clipping, Adam and schedule: the losses
    agree up to float32 rounding (a scratch config only has fewer epochs by default)."""
    a = records(divelab.run(cell, epochs=1, out=tmp_path / "a", progress=False, **TINY).out_dir)
    b = records(divelab.run(f"{cell}-scratch", epochs=1, out=tmp_path / "b", progress=False, **TINY).out_dir)
    for key in ("train_loss", "test_loss", "grad_norm_mean"):
        assert b[0][key] == pytest.approx(a[0][key], rel=1e-4), key


def test_records_of_every_epoch_carry_perplexity_and_bits(fake_text, tmp_path):
    divelab.run("gru", epochs=2, out=tmp_path / "g", progress=False, **TINY)
    history = records(tmp_path / "g")
    assert [r["epoch"] for r in history] == [1, 2]
    for r in history:
        check_units(r)
        assert r["train_bpc"] == pytest.approx(r["train_loss"] / math.log(2))


def test_a_resumed_run_ends_where_an_uninterrupted_one_ends(fake_text, tmp_path):
    """Checkpoints at epoch ends are exact: every epoch starts from a zero state anyway.
    (A constant schedule: a planned one forbids changing epochs on resume.)"""
    settings = TINY | {"schedule": "constant"}
    whole = divelab.run("lstm", epochs=2, out=tmp_path / "whole", progress=False, **settings).summary
    divelab.run("lstm", epochs=1, out=tmp_path / "split", progress=False, **settings)
    resumed = divelab.run("lstm", epochs=2, out=tmp_path / "split", resume=True, progress=False).summary
    keep = ("train_loss", "test_loss")
    assert [{k: r[k] for k in keep} for r in records(tmp_path / "split")] == \
        [{k: r[k] for k in keep} for r in records(tmp_path / "whole")]
    assert resumed["test_bpc"] == whole["test_bpc"] and resumed["samples"] == whole["samples"]


def test_random_partition_and_word_level(fake_text, tmp_path):
    s = divelab.run("gru", epochs=1, out=tmp_path / "w", progress=False, **TINY,
                    level="word", min_freq=3, partition="random").summary
    check_units(s)
    words = tokenize(load_corpus().train[:3000], "word")
    assert s["vocab_size"] == 1 + len({w for w in words if words.count(w) >= 3})
    for prefix, texts in s["samples"].items():
        assert prefix == prefix.lower()
        assert all(len(t.split()) == len(prefix.split()) + 12 for t in texts.values())


def test_birnn_reports_both_models(fake_text, tmp_path):
    result = divelab.run("birnn", epochs=1, out=tmp_path / "b", progress=False, **TINY)
    s = result.summary
    assert "backward" in s["note"]
    for name in ("lstm", "birnn"):
        check_units(s, f"_{name}")
        (record,) = records(tmp_path / "b", name)
        assert s[f"test_bpc_{name}"] == record["test_bpc"]
        assert 0 <= s[f"known_words_{name}"] <= 1
        assert set(s[f"samples_{name}"]) == set(PREFIXES)
    assert {p.name for p in result.figures} == {"curves-lstm.png", "curves-birnn.png", "birnn.png"}
    assert (tmp_path / "b" / "samples.txt").read_text().count("===") == 2 * 2 * len(PREFIXES)


@pytest.mark.parametrize("setting", [{"num_steps": 0}, {"hidden_size": 0}, {"num_layers": 0}, {"embed_size": -1},
                                     {"dropout": 1.0}, {"clip": -1.0}, {"max_chars": -5}, {"min_freq": 0},
                                     {"sample_tokens": -1}, {"text": " "}, {"level": "byte"},
                                     {"partition": "shuffled"}])
def test_bad_settings_are_user_errors(setting, fake_text, tmp_path):
    with pytest.raises(UserError):
        divelab.run("lstm", epochs=1, out=tmp_path / "x", progress=False, **setting)


def test_a_text_too_short_for_one_batch_is_a_user_error(fake_text, tmp_path):
    with pytest.raises(UserError, match="too short"):
        divelab.run("lstm", epochs=1, out=tmp_path / "x", progress=False, **TINY | {"num_steps": 1000})
    assert not (tmp_path / "x").exists()  # found before the run directory was made


# ---- text-data ---------------------------------------------------------------------------------

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
    assert known_word_share(["a b", "zz"], {"a", "b"}) == pytest.approx(2 / 3)
    assert known_word_share([" "], {"a"}) is None


@pytest.mark.parametrize("rank", [0, 1])
def test_only_process_zero_writes_vocab_and_samples(rank, tmp_path):
    """Process 1 of a torchrun launch must not write (nor create) anything in the run directory."""
    from types import SimpleNamespace

    from divelab.experiment import RunContext
    from divelab.experiments.language_model import LMConfig, _write_run_files
    from divelab.train.distributed import World

    ctx = RunContext(experiment="lstm", config=LMConfig(), out_dir=tmp_path / "run", device=torch.device("cpu"),
                     world=World(rank, 2))
    _write_run_files(ctx, SimpleNamespace(vocab=Vocab(list("abc"))), "sample")
    if rank == 0:
        assert (tmp_path / "run" / "vocab.json").is_file() and (tmp_path / "run" / "samples.txt").is_file()
    else:
        assert not (tmp_path / "run").exists()
