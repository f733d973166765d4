"""slot-filling and elman-jordan end to end at tiny sizes: files, figures, scores, determinism."""

from __future__ import annotations

import json
import math

import pytest

import divelab
from divelab.data.travel import SLOTS, load_travel
from divelab.errors import UserError
from divelab.experiments import EXPERIMENTS
from divelab.experiments import slot_filling
from divelab.experiments.slot_filling import bracketed

TINY = {"num_train": 240, "num_eval": 60, "epochs": 2, "embed_size": 8, "hidden_size": 8, "batch_size": 32,
        "repeats": 1}


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    """The experiments by name, whether or not the registry lists them yet."""
    for experiment in slot_filling.EXPERIMENTS:
        monkeypatch.setitem(EXPERIMENTS, experiment.name, experiment)


def _check_scores(summary: dict, models: list[str], repeats: int = 1) -> None:
    for model in models:
        key = model.replace("-", "_")
        for prefix in ("f1", "f1_seen", "val_f1"):
            value = summary[f"{prefix}_{key}"]
            assert isinstance(value, float) and 0 <= value <= 1, (prefix, model)
        assert summary[f"train_seconds_{key}"] > 0 and summary[f"params_{key}"] > 0
        rows = [r for r in summary["rows"] if r["model"] == model]
        assert [r["slot"] for r in rows] == [*SLOTS, "micro"]
        assert rows[-1]["f1"] == summary[f"f1_{key}"] and rows[-1]["f1_seen"] == summary[f"f1_seen_{key}"]
        for r in rows:
            assert all(0 <= r[k] <= 1 for k in ("precision", "recall", "f1", "f1_seen"))
            if repeats == 1 and r["precision"] + r["recall"] > 0:  # with repeats: means of each
                assert r["f1"] == pytest.approx(2 * r["precision"] * r["recall"] / (r["precision"] + r["recall"]))
        assert rows[-1]["support"] == sum(r["support"] for r in rows[:-1]) > 0


def _metrics(out, name: str) -> list[dict]:
    return [json.loads(line) for line in (out / f"metrics-{name}.jsonl").read_text().splitlines()]


def test_slot_filling_trains_both_taggers_and_reports_per_slot_scores(tmp_path):
    out = tmp_path / "sf"
    result = divelab.run("slot-filling", out=out, progress=False, **TINY)
    summary = result.summary
    assert json.loads((out / "summary.json").read_text()) == summary
    _check_scores(summary, ["uni", "bi"])
    assert summary["params_bi"] > summary["params_uni"]  # a second direction, same size per direction
    for name in ("uni", "bi"):
        records = _metrics(out, f"{name}-s0")
        assert [r["epoch"] for r in records] == [1, 2]
        assert all(0 <= r["val_f1"] <= 1 and math.isfinite(r["val_loss"]) for r in records)
        assert records[-1]["val_f1"] == summary[f"val_f1_{name}"]
    assert (out / "slot-filling.png").stat().st_size > 1000 and result.figures == [out / "slot-filling.png"]
    corpus = load_travel(TINY["num_train"], TINY["num_eval"], seed=0)
    assert summary["test_cities"] == list(corpus.cities["test"])
    assert summary["train_sentences"] == 240 and summary["test_sentences"] == summary["test_seen_sentences"] == 60
    golds = {bracketed(w, t) for w, t in zip(corpus.test.words, corpus.test.tag_names)}
    assert summary["examples"] and all(set(e) == {"gold", "uni", "bi"} for e in summary["examples"])
    assert all(e["gold"] in golds for e in summary["examples"])


def test_slot_filling_is_deterministic_given_the_seed(tmp_path):
    settings = {**TINY, "epochs": 1, "cell": "lstm"}
    a = divelab.run("slot-filling", out=tmp_path / "a", progress=False, **settings).summary
    b = divelab.run("slot-filling", out=tmp_path / "b", progress=False, **settings).summary
    assert a["rows"] == b["rows"] and a["examples"] == b["examples"]
    assert [r["train_loss"] for r in _metrics(tmp_path / "a", "bi-s0")] == [
        r["train_loss"] for r in _metrics(tmp_path / "b", "bi-s0")]


def test_elman_jordan_compares_three_taggers_over_repeats(tmp_path):
    out = tmp_path / "ej"
    result = divelab.run("elman-jordan", out=out, progress=False, **{**TINY, "epochs": 1, "repeats": 2, "seed": 5})
    summary = result.summary
    _check_scores(summary, ["elman", "jordan", "torch-rnn"], repeats=2)
    hidden, tags = TINY["hidden_size"], 11
    # nn.RNN has the same weights as the Elman network plus a second bias vector
    assert summary["params_torch_rnn"] == summary["params_elman"] + hidden
    # Jordan feeds back the C tag probabilities (W_y: H × C) instead of the state (W_h: H × H)
    assert summary["params_jordan"] == summary["params_elman"] - hidden * hidden + hidden * tags
    assert all(set(e) == {"gold", "elman", "jordan", "torch-rnn"} for e in summary["examples"])
    assert (out / "elman-jordan.png").stat().st_size > 1000
    for model in ("elman", "jordan", "torch_rnn"):
        runs = summary[f"f1_{model}_runs"]
        assert len(runs) == 2 and summary[f"f1_{model}"] == pytest.approx(sum(runs) / 2)
        rows = [r for r in summary["rows"] if r["model"] == model.replace("_", "-")]
        assert all(r["f1_min"] <= r["f1"] <= r["f1_max"] for r in rows)
        assert (rows[-1]["f1_min"], rows[-1]["f1_max"]) == (min(runs), max(runs))
    for seed in (5, 6):  # one sub-run per repeat, seeds counted from --seed
        assert [r["epoch"] for r in _metrics(out, f"jordan-s{seed}")] == [1]


@pytest.mark.parametrize("settings, match", [
    ({"word_dropout_alpha": -1.0}, "word_dropout_alpha"),
    ({"num_train": 0}, "num_train"),
    ({"hidden_size": 0}, "hidden_size"),
    ({"cell": "transformer"}, "cell"),
    ({"repeats": 0}, "repeats"),
])
def test_bad_settings_are_refused_before_anything_is_written(settings, match, tmp_path):
    with pytest.raises(UserError, match=match):
        divelab.run("slot-filling", out=tmp_path / "sf", progress=False, **settings)
    assert not (tmp_path / "sf").exists()


def test_bracketed_marks_spans():
    words = ["fly", "to", "new", "york", "at", "5", "pm"]
    tags = ["O", "O", "B-dest", "I-dest", "O", "B-time", "I-time"]
    assert bracketed(words, tags) == "fly to [dest: new york] at [time: 5 pm]"
    assert bracketed(words, ["O"] * 7) == " ".join(words)
