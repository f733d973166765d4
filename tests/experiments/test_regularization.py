"""The regularisation experiments on the tests' fake Fashion-MNIST: what they report is
what they measured (eval-mode train accuracy, the gap, the restored best weights)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import divelab
from divelab.errors import UserError

DROPOUT_EXPERIMENTS = ["dropout", "dropout-scratch"]


def run(name, tmp_path, **settings):
    return divelab.run(name, out=tmp_path / name, progress=False, **settings)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---- dropout -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DROPOUT_EXPERIMENTS)
def test_dropout_reports_accuracy_and_gap_for_both_models(name, fake_data, tmp_path):
    result = run(name, tmp_path, epochs=3, lr=0.5, batch_size=64, dropout1=0.5, dropout2=0.5)
    s = result.summary
    for suffix in ("", "_no_dropout"):
        assert s[f"gap{suffix}"] == pytest.approx(s[f"train_acc_eval{suffix}"] - s[f"test_acc{suffix}"])
        assert 0 <= s[f"test_acc{suffix}"] <= 1 and 0 <= s[f"train_acc_eval{suffix}"] <= 1
    assert s["gap_reduction"] == pytest.approx(s["gap_no_dropout"] - s["gap"])
    assert s["test_acc_gain"] == pytest.approx(s["test_acc"] - s["test_acc_no_dropout"])
    assert s["train_examples"] == 512  # train_size 3000 > the fake set: all of it
    assert {p.name for p in result.figures} == {"curves-with-dropout.png", "curves-no-dropout.png", "dropout.png"}

    for run_name, suffix in (("with-dropout", ""), ("no-dropout", "_no_dropout")):
        history = records(tmp_path / name / f"metrics-{run_name}.jsonl")
        assert [r["epoch"] for r in history] == [1, 2, 3]
        # the per-epoch eval-mode measurement and the one after training see the same weights;
        # were dropout on while measuring (p = 0.5), two measurements would not agree
        assert history[-1]["train_acc_eval"] == pytest.approx(s[f"train_acc_eval{suffix}"], abs=1e-12)
        assert history[-1]["test_acc"] == pytest.approx(s[f"test_acc{suffix}"], abs=1e-12)


@pytest.mark.parametrize("name", DROPOUT_EXPERIMENTS)
def test_without_dropout_both_runs_are_the_same_model(name, fake_data, tmp_path):
    """Both sub-runs start from the same weights and see the same batches: p = 0 makes them one run."""
    s = run(name, tmp_path, epochs=2, dropout1=0.0, dropout2=0.0).summary
    for key in ("train_acc_eval", "test_acc", "test_loss", "gap"):
        assert s[key] == s[f"{key}_no_dropout"], key


def test_train_size_draws_a_subset(fake_data, tmp_path):
    s = run("dropout", tmp_path, epochs=1, train_size=100).summary
    assert s["train_examples"] == 100


@pytest.mark.parametrize("setting", [{"dropout1": 1.0}, {"dropout2": -0.1}, {"train_size": -1}, {"hidden1": 0}])
def test_dropout_rejects_bad_settings(setting, tmp_path):
    with pytest.raises(UserError):
        run("dropout", tmp_path, **setting)


# ---- early stopping ------------------------------------------------------------------------

def test_early_stopping_restores_the_weights_of_the_best_epoch(fake_data, tmp_path):
    """min_delta = 100: no epoch after the first counts as an improvement, so training stops
    after 1 + patience epochs and the weights of epoch 1 must come back."""
    s = run("early-stopping", tmp_path, epochs=6, patience=2, min_delta=100.0, lr=0.5).summary
    assert (s["best_epoch"], s["stopped_epoch"], s["epochs_trained"]) == (1, 3, 3)
    stopped = records(tmp_path / "early-stopping" / "metrics-early-stopping.jsonl")
    full = records(tmp_path / "early-stopping" / "metrics-no-stopping.jsonl")
    assert len(stopped) == 3 and len(full) == 6
    # re-evaluating the restored model gives epoch 1's numbers, not those of the last epoch
    assert s["val_loss_restored"] == pytest.approx(stopped[0]["val_loss"], rel=1e-9)
    assert s["val_loss_restored"] != pytest.approx(stopped[-1]["val_loss"], rel=1e-6)
    assert s["test_loss"] == pytest.approx(stopped[0]["test_loss"], rel=1e-9)
    assert s["test_loss_at_last"] == pytest.approx(stopped[-1]["test_loss"])
    # the run trained to the end is the same run until the stop, and its numbers are its last epoch's
    for a, b in zip(stopped, full):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-9)
    assert s["val_loss_no_stop"] == pytest.approx(full[-1]["val_loss"], rel=1e-9)
    assert s["best_epoch_hindsight"] == min(full, key=lambda r: r["val_loss"])["epoch"]


def test_early_stopping_on_accuracy_stops_at_the_plateau(fake_data, tmp_path):
    """The fake classes are easy: validation accuracy stops improving, patience runs out."""
    s = run("early-stopping", tmp_path, epochs=12, patience=3, lr=0.5, monitor="val_acc").summary
    assert 0 < s["stopped_epoch"] < 12
    assert s["stopped_epoch"] == s["best_epoch"] + 3 == s["epochs_trained"]
    stopped = records(tmp_path / "early-stopping" / "metrics-early-stopping.jsonl")
    assert s["val_acc_restored"] == max(r["val_acc"] for r in stopped) == s["val_acc_at_best"]


@pytest.mark.parametrize("setting", [{"val_fraction": 0.0}, {"val_fraction": 1.0}, {"patience": 0},
                                     {"monitor": "test_acc"}, {"min_delta": -1.0}, {"subset_size": -5}])
def test_early_stopping_rejects_bad_settings(setting, tmp_path):
    with pytest.raises(UserError):
        run("early-stopping", tmp_path, **setting)


def test_too_small_a_subset_for_a_validation_split(fake_data, tmp_path):
    with pytest.raises(UserError, match="val_fraction"):
        run("early-stopping", tmp_path, subset_size=1)


# ---- the real data set, default settings (run with -m slow; ≈ 1 minute each on two cores) ----

@pytest.mark.slow
@pytest.mark.parametrize("name", DROPOUT_EXPERIMENTS)
def test_dropout_keeps_the_test_loss_down_on_fashion_mnist(name, tmp_path, monkeypatch):
    """Without dropout the 3,000-image network overfits: its test loss climbs well above the
    dropout network's (measured ≈ 0.89 vs ≈ 0.69), and its test accuracy is not better."""
    monkeypatch.delenv("DIVELAB_DATA", raising=False)
    s = run(name, tmp_path).summary
    assert s["test_loss"] < 0.9 * s["test_loss_no_dropout"]
    assert s["test_acc"] >= s["test_acc_no_dropout"]
    assert s["gap_no_dropout"] > 0.05  # the no-dropout model does overfit


@pytest.mark.slow
def test_early_stopping_stops_and_beats_training_on_in_test_loss(tmp_path, monkeypatch):
    monkeypatch.delenv("DIVELAB_DATA", raising=False)
    s = run("early-stopping", tmp_path).summary
    assert 0 < s["best_epoch"] < s["stopped_epoch"] < 60  # validation loss turned up, patience ran out
    assert s["test_loss"] < 0.9 * s["test_loss_no_stop"]
