"""The recurrent language models end to end on the fake text: files, units, scratch vs library,
resume, word level and bad settings."""

from __future__ import annotations

import json
import math

import pytest

import divelab
from divelab.data.text import load_corpus
from divelab.data.vocab import Vocab, tokenize
from divelab.errors import UserError
from divelab.experiments.language_model.common import PREFIXES
from tests.experiments.language_model.checks import TINY, check_units, records

# every cell, scratch and torch, one and two layers (the registry test runs all of them once more)
LMS = ["rnn-scratch", "gru", "lstm-scratch", "deep-rnn"]


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
