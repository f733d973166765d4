"""The char-transformer and subword-transformer experiments end to end on the fake text: files, units,
FLOP accounting, resume, settings, bits per character of pieces."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch

import divelab
from divelab.analysis.flops import count_flops
from divelab.data.text import load_corpus
from divelab.data.text_pieces import TextPieces
from divelab.errors import UserError
from divelab.experiments.char_transformer import bits_per_char, macs_per_token, overlapping_loss
from divelab.experiments.language_model.common import PREFIXES
from divelab.models.char_transformer import CharTransformer

TINY = {"d_model": 16, "nhead": 2, "num_layers": 1, "dim_feedforward": 32, "num_steps": 8, "batch_size": 4,
        "max_chars": 3000, "sample_tokens": 12, "warmup_epochs": 0.5}


def records(directory) -> list[dict]:
    return [json.loads(line) for line in (directory / "metrics.jsonl").read_text().splitlines()]


def test_it_trains_and_writes_what_the_recurrent_models_write(fake_text, tmp_path):
    out = tmp_path / "ct"
    s = divelab.run("char-transformer", epochs=2, out=out, progress=False, **TINY).summary
    history = records(out)
    assert [r["epoch"] for r in history] == [1, 2] and s["epochs_done"] == 2
    assert s["test_loss"] == history[-1]["test_loss"]
    assert s["test_bpc"] == pytest.approx(s["test_loss"] / math.log(2))
    assert s["bits_per_char"] == s["test_bpc"] and s["test_ppl"] == pytest.approx(math.exp(s["test_loss"]))
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # it learns something in two epochs
    assert s["train_tokens"] == 3000 and s["tokens_per_s"] > 0
    assert s["model_gflops_per_s"] * 1e9 == pytest.approx(6 * s["macs_per_token"] * s["tokens_per_s"], rel=1e-6)
    assert 0 < s["mfu"] < 1
    text = (out / "samples.txt").read_text()
    for prefix in PREFIXES:
        assert set(s["samples"][prefix]) == {"greedy", "T=0.5", "T=1"}
        for generated in s["samples"][prefix].values():
            assert generated.startswith(prefix) and len(generated) == len(prefix) + 12
            assert generated in text
    assert (out / "vocab.json").exists()
    assert math.isfinite(s["test_bpc_overlap"]) and s["test_bpc_overlap"] > 0


def test_macs_per_token_counts_the_projections_and_the_attention():
    """Per token of a full window of T: per layer 4d² (q, k, v, out) + 2·d·f (FFN) + T·d (the mean
    of q·kᵀ and weights·v over the window: each of the T² products in both is counted), plus the
    tied head d·V."""
    V, d, f, layers, T = 13, 16, 40, 2, 10
    model = CharTransformer(V, d, 2, layers, f, context=T)
    by_hand = layers * (4 * d * d + 2 * d * f + 2 * T * d) // 1 + d * V
    assert macs_per_token(model) * T == count_flops(model, (T,), dtype=torch.long).macs
    assert macs_per_token(model) == by_hand


def test_a_resumed_run_ends_where_an_uninterrupted_one_ends(fake_text, tmp_path):
    settings = TINY | {"schedule": "constant"}
    whole = divelab.run("char-transformer", epochs=2, out=tmp_path / "whole", progress=False, **settings).summary
    divelab.run("char-transformer", epochs=1, out=tmp_path / "split", progress=False, **settings)
    resumed = divelab.run("char-transformer", epochs=2, out=tmp_path / "split", resume=True, progress=False).summary
    assert [r["train_loss"] for r in records(tmp_path / "split")] == [r["train_loss"] for r in records(tmp_path / "whole")]
    assert resumed["test_bpc"] == whole["test_bpc"] and resumed["samples"] == whole["samples"]


@pytest.mark.parametrize("setting", [{"num_steps": 0}, {"d_model": 10, "nhead": 4}, {"num_layers": 0},
                                     {"dropout": 1.0}, {"clip": -1.0}, {"max_chars": -1}, {"text": " "},
                                     {"dim_feedforward": 0}])
def test_bad_settings_are_user_errors(setting, fake_text, tmp_path):
    with pytest.raises(UserError):
        divelab.run("char-transformer", epochs=1, out=tmp_path / "x", progress=False, **setting)


@pytest.mark.parametrize("n, window, stride", [(50, 8, 4), (49, 8, 4), (41, 8, 8), (30, 7, 3), (10, 8, 4)])
def test_overlapping_windows_score_every_target_once(n, window, stride):
    model = CharTransformer(11, 16, 2, 1, 32, context=window)
    ids = torch.randint(0, 11, (n,), generator=torch.Generator().manual_seed(n))
    loss, count = overlapping_loss(model, ids, window, stride, batch_size=3)
    assert count == n - 1 and math.isfinite(loss)


def test_windows_side_by_side_give_the_mean_of_the_windows_losses():
    """With stride = window and n − 1 a multiple of it, the windows are the plain held-out windows."""
    window = 8
    model = CharTransformer(11, 16, 2, 1, 32, context=window).eval()
    ids = torch.randint(0, 11, (4 * window + 1,), generator=torch.Generator().manual_seed(0))
    x, y = ids[:-1].view(4, window), ids[1:].view(4, window)
    with torch.no_grad():
        want = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten()).item()
    loss, count = overlapping_loss(model, ids, window, window)
    assert count == 4 * window and loss == pytest.approx(want, rel=1e-6)


def test_overlap_gives_later_tokens_more_context():
    """Each scored token of a later window sees ≥ window − stride tokens: a model that only knows a
    token once it has seen the token three places back does better read with overlap than side by side."""
    window = 8
    torch.manual_seed(0)
    model = CharTransformer(5, 32, 2, 2, 64, context=window)
    ids = torch.randint(0, 5, (400,), generator=torch.Generator().manual_seed(1))
    ids[3:] = ids[:-3].clone()  # x_t = x_{t−3}: predictable from 3 tokens back
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(150):
        start = torch.randint(0, len(ids) - window - 1, (16,))
        index = start[:, None] + torch.arange(window)
        loss = torch.nn.functional.cross_entropy(model(ids[index]).flatten(0, 1), ids[index + 1].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    overlapped, _ = overlapping_loss(model, ids, window, window // 2)
    side_by_side, _ = overlapping_loss(model, ids, window, window)
    assert overlapped < side_by_side


# ---- subword-transformer: the same model over BPE pieces, scored per character ---------------------

def test_subword_run_reports_bits_per_character_of_its_pieces(fake_text, tmp_path):
    out = tmp_path / "sw"
    s = divelab.run("subword-transformer", epochs=2, out=out, progress=False, **TINY, vocab_size=64).summary
    history = records(out)
    pieces = TextPieces.load(out / "pieces.model")
    corpus = load_corpus(str(fake_text))
    test_tokens = pieces.split(corpus.test)
    chars_per_piece = len(corpus.test) / len(test_tokens)
    assert 1.5 < chars_per_piece                            # 64 pieces of the toy grammar are longer than letters
    assert s["bits_per_token"] == pytest.approx(s["test_loss"] / math.log(2))
    assert s["test_bpc"] == s["bits_per_char"] == pytest.approx(s["bits_per_token"] / chars_per_piece)
    assert history[-1]["test_bpc"] == s["test_bpc"]
    assert s["chars_per_s"] > s["tokens_per_s"] > 0
    assert s["vocab_size"] == len(pieces.pieces())          # every piece has an id, seen in training or not
    assert s["train_tokens"] == len(pieces.split(corpus.train[:3000]))
    for prefix in PREFIXES:
        assert all(text.startswith(prefix) for text in s["samples"][prefix].values())
    assert math.isfinite(s["test_bpc_overlap"]) and s["test_bpc_overlap"] > 0


def test_subword_run_resumes_with_the_same_pieces(fake_text, tmp_path):
    settings = TINY | {"schedule": "constant", "vocab_size": 64}
    whole = divelab.run("subword-transformer", epochs=2, out=tmp_path / "whole", progress=False, **settings).summary
    divelab.run("subword-transformer", epochs=1, out=tmp_path / "split", progress=False, **settings)
    resumed = divelab.run("subword-transformer", epochs=2, out=tmp_path / "split", resume=True, progress=False).summary
    assert (tmp_path / "split" / "pieces.model").read_bytes() == (tmp_path / "whole" / "pieces.model").read_bytes()
    assert resumed["test_bpc"] == whole["test_bpc"] and resumed["samples"] == whole["samples"]


def test_bits_per_char_counts_the_characters_the_scored_tokens_spell():
    """Every token but the first is scored: 3 tokens of 2, 4 and 6 characters after a first of 5."""
    data = SimpleNamespace(chars_per_token={"test": 4.0}, join="".join)
    tokens = ["abcde", "fg", "hijk", "lmnopq"]
    assert bits_per_char(math.log(2), tokens, data) == pytest.approx(3 / 12)
    char_data = SimpleNamespace(chars_per_token={"test": 1.0}, join="".join)
    assert bits_per_char(math.log(2), list("abcd"), char_data) == pytest.approx(1.0)
    word_data = SimpleNamespace(chars_per_token={}, join=" ".join)
    assert bits_per_char(math.log(2), ["in", "the", "beginning"], word_data) == pytest.approx(1.0)
