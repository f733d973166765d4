"""The concept-shift experiment end to end on the tiny fake Fashion-MNIST (512 + 128 images)."""

from __future__ import annotations

import pytest

import divelab
from divelab.errors import UserError
from divelab.experiments import concept_shift as cs
from tests.experiments.shift_runs import check_run


def test_experiment_is_listed_under_topic_shift():
    assert [e.name for e in cs.EXPERIMENTS] == ["concept-shift"]
    assert {e.topic for e in cs.EXPERIMENTS} == {"shift"}


def test_concept_shift_detects_the_drift_and_adapts(fake_data, tmp_path):
    out = tmp_path / "concept"
    result = divelab.run("concept-shift", epochs=3, stream_length=3000, adapt_samples=300, out=out, progress=False)
    check_run("concept-shift", result, out)
    s = result.summary
    assert s["drift_at"] == 1200
    assert s["false_alarms"] == 0 and s["detected_at"] >= s["drift_at"]
    assert s["detection_delay"] == s["detected_at"] - s["drift_at"] < 300
    assert s["adapted_at"] == s["detected_at"] + 1 + 300  # the next 300 labelled images, then fine-tuning
    assert (out / "metrics-update1.jsonl").is_file()
    # the fake task is learnable: the swapped labels cost accuracy, fine-tuning wins it back
    assert s["acc_during"] < s["acc_before"] - 0.1
    assert s["acc_after"] > s["acc_after_no_adaptation"] + 0.1


@pytest.mark.parametrize(("settings", "message"), [
    ({"swap": "1:1"}, "swap"),
    ({"swap": "1:8,8:9"}, "swap"),
    ({"swap": "1-8"}, "swap"),
    ({"swap": "1:10"}, "swap"),
    ({"drift_at": 1.5}, "drift_at"),
    ({"window": 0}, "window"),
    ({"threshold": 0.0}, "threshold"),
])
def test_bad_settings_are_refused_before_anything_is_written(settings, message, tmp_path):
    with pytest.raises(UserError, match=message):
        divelab.run("concept-shift", out=tmp_path / "run", progress=False, **settings)
    assert not (tmp_path / "run").exists()


def test_parse_pairs():
    assert cs.parse_pairs(" 1:8, 5:9 ") == [(1, 8), (5, 9)]
