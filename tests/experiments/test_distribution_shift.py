"""The distribution-shift experiments end to end on the tiny fake Fashion-MNIST (512 + 128 images)."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

import divelab
from divelab.errors import UserError
from divelab.experiments import EXPERIMENTS
from divelab.experiments import distribution_shift as ds


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    """Run through ``divelab.run`` whether or not the registry lists these experiments yet."""
    for experiment in ds.EXPERIMENTS:
        monkeypatch.setitem(EXPERIMENTS, experiment.name, experiment)


def _check_run(name, result, out):
    assert json.loads((out / "summary.json").read_text()) == result.summary
    for key in EXPERIMENTS[name].headline:
        assert isinstance(result.summary[key], (int, float)) and math.isfinite(result.summary[key]), key
    assert result.figures and all(p.is_file() and p.stat().st_size > 1000 for p in result.figures)


def test_experiments_are_listed_under_topic_shift():
    assert [e.name for e in ds.EXPERIMENTS] == ["covariate-shift", "label-shift", "concept-shift"]
    assert {e.topic for e in ds.EXPERIMENTS} == {"shift"}


def test_weighted_cross_entropy_is_the_weighted_mean_of_the_losses():
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 3, 9, 1, 2])
    weights = torch.tensor([0.5, 2.0, 0.0, 1.0, 3.0, 1.5])
    target = torch.stack([labels.float(), weights], 1)
    want = (F.cross_entropy(logits, labels, reduction="none") * weights).mean()
    torch.testing.assert_close(ds.weighted_cross_entropy(logits, target), want)
    ones = torch.stack([labels.float(), torch.ones(6)], 1)
    torch.testing.assert_close(ds.weighted_cross_entropy(logits, ones), F.cross_entropy(logits, labels))


def test_covariate_shift_runs_and_reports_every_seed(fake_data, tmp_path):
    out = tmp_path / "cov"
    result = divelab.run("covariate-shift", epochs=2, seeds=2, max_source=200, out=out, progress=False)
    _check_run("covariate-shift", result, out)
    s = result.summary
    assert [r["seed"] for r in s["rows"]] == [0, 1]
    for row in s["rows"]:
        assert row["source_size"] == row["target_size"] == 200  # both capped at max_source
        assert row["source_negatives"] < 0.5 < row["target_negatives"]  # the selection moved p(x)
        assert row["domain_auc"] > 0.8  # negatives are easy to tell apart
        assert 0 < row["ess_fraction"] <= 1 and 0 <= row["clipped_fraction"] < 1
        assert row["log_weight_corr"] > 0.5
        for key in ("plain", "weighted", "true_weights", "target_trained"):
            assert 0 <= row[f"target_acc_{key}"] <= 1
            records = [json.loads(line) for line in (out / f"metrics-seed{row['seed']}-{key}.jsonl").open()]
            assert [r["epoch"] for r in records] == [1, 2] and "target_acc" in records[-1]
            assert records[-1]["target_acc"] == pytest.approx(row[f"target_acc_{key}"])
    accs = [r["target_acc_weighted"] for r in s["rows"]]
    assert s["target_acc_weighted"] == pytest.approx(sum(accs) / 2)
    assert s["target_acc_weighted_std"] == pytest.approx(abs(accs[0] - accs[1]) / math.sqrt(2))
    assert {p.name for p in result.figures} == {"domains.png", "covariate-shift.png"}


def test_label_shift_estimates_q_for_every_trial(fake_data, tmp_path):
    out = tmp_path / "label"
    result = divelab.run("label-shift", epochs=2, trials=3, target_size=300, out=out, progress=False)
    _check_run("label-shift", result, out)
    s = result.summary
    assert len(s["trials"]) == 3 and 0 <= s["nnls_trials"] <= 3
    for trial in s["trials"]:
        assert sum(trial["q"]) == pytest.approx(1) and sum(trial["q_estimated"]) == pytest.approx(1)
        assert min(trial["q_estimated"]) >= 0
        assert trial["error"] == pytest.approx(math.dist(trial["q"], trial["q_estimated"]))
        assert all(float(v * 300).is_integer() for v in trial["q"])  # proportions of 300 images
    assert s["acc_gain"] == pytest.approx(s["acc_after"] - s["acc_before"])
    assert sum(s["source_prior"]) == pytest.approx(1)


def test_concept_shift_detects_the_drift_and_adapts(fake_data, tmp_path):
    out = tmp_path / "concept"
    result = divelab.run("concept-shift", epochs=3, stream_length=3000, adapt_samples=300, out=out, progress=False)
    _check_run("concept-shift", result, out)
    s = result.summary
    assert s["drift_at"] == 1200
    assert s["false_alarms"] == 0 and s["detected_at"] >= s["drift_at"]
    assert s["detection_delay"] == s["detected_at"] - s["drift_at"] < 300
    assert s["adapted_at"] == s["detected_at"] + 1 + 300  # the next 300 labelled images, then fine-tuning
    assert (out / "metrics-update1.jsonl").is_file()
    # the fake task is learnable: the swapped labels cost accuracy, fine-tuning wins it back
    assert s["acc_during"] < s["acc_before"] - 0.1
    assert s["acc_after"] > s["acc_after_no_adaptation"] + 0.1


@pytest.mark.parametrize(("name", "settings", "message"), [
    ("covariate-shift", {"seeds": 0}, "seeds"),
    ("covariate-shift", {"center": 1.0}, "center"),
    ("covariate-shift", {"slope": -1.0}, "slope"),
    ("covariate-shift", {"max_weight": 0.0}, "max_weight"),
    ("label-shift", {"val_fraction": 0.0}, "val_fraction"),
    ("label-shift", {"alpha": 0.0}, "alpha"),
    ("label-shift", {"trials": 0}, "trials"),
    ("concept-shift", {"swap": "1:1"}, "swap"),
    ("concept-shift", {"swap": "1:8,8:9"}, "swap"),
    ("concept-shift", {"swap": "1-8"}, "swap"),
    ("concept-shift", {"swap": "1:10"}, "swap"),
    ("concept-shift", {"drift_at": 1.5}, "drift_at"),
    ("concept-shift", {"window": 0}, "window"),
    ("concept-shift", {"threshold": 0.0}, "threshold"),
])
def test_bad_settings_are_refused_before_anything_is_written(name, settings, message, tmp_path):
    with pytest.raises(UserError, match=message):
        divelab.run(name, out=tmp_path / "run", progress=False, **settings)
    assert not (tmp_path / "run").exists()


def test_parse_pairs():
    assert ds.parse_pairs(" 1:8, 5:9 ") == [(1, 8), (5, 9)]
