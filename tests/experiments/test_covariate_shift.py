"""The covariate-shift experiment end to end on the tiny fake Fashion-MNIST (512 + 128 images)."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

import divelab
from divelab.errors import UserError
from divelab.experiments import covariate_shift as cs
from tests.experiments.shift_runs import check_run


def test_experiment_is_listed_under_topic_shift():
    assert [e.name for e in cs.EXPERIMENTS] == ["covariate-shift"]
    assert {e.topic for e in cs.EXPERIMENTS} == {"shift"}


def test_weighted_cross_entropy_is_the_weighted_mean_of_the_losses():
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 3, 9, 1, 2])
    weights = torch.tensor([0.5, 2.0, 0.0, 1.0, 3.0, 1.5])
    target = torch.stack([labels.float(), weights], 1)
    want = (F.cross_entropy(logits, labels, reduction="none") * weights).mean()
    torch.testing.assert_close(cs.weighted_cross_entropy(logits, target), want)
    ones = torch.stack([labels.float(), torch.ones(6)], 1)
    torch.testing.assert_close(cs.weighted_cross_entropy(logits, ones), F.cross_entropy(logits, labels))


def test_covariate_shift_runs_and_reports_every_seed(fake_data, tmp_path):
    out = tmp_path / "cov"
    result = divelab.run("covariate-shift", epochs=2, seeds=2, max_source=200, out=out, progress=False)
    check_run("covariate-shift", result, out)
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


@pytest.mark.parametrize(("settings", "message"), [
    ({"seeds": 0}, "seeds"),
    ({"center": 1.0}, "center"),
    ({"slope": -1.0}, "slope"),
    ({"max_weight": 0.0}, "max_weight"),
])
def test_bad_settings_are_refused_before_anything_is_written(settings, message, tmp_path):
    with pytest.raises(UserError, match=message):
        divelab.run("covariate-shift", out=tmp_path / "run", progress=False, **settings)
    assert not (tmp_path / "run").exists()
