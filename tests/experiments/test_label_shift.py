"""The label-shift experiment end to end on the tiny fake Fashion-MNIST (512 + 128 images)."""

from __future__ import annotations

import math

import pytest

import divelab
from divelab.errors import UserError
from divelab.experiments import label_shift as ls
from tests.experiments.shift_runs import check_run


def test_experiment_is_listed_under_topic_shift():
    assert [e.name for e in ls.EXPERIMENTS] == ["label-shift"]
    assert {e.topic for e in ls.EXPERIMENTS} == {"shift"}


def test_label_shift_estimates_q_for_every_trial(fake_data, tmp_path):
    out = tmp_path / "label"
    result = divelab.run("label-shift", epochs=2, trials=3, target_size=300, out=out, progress=False)
    check_run("label-shift", result, out)
    s = result.summary
    assert len(s["trials"]) == 3 and 0 <= s["nnls_trials"] <= 3
    for trial in s["trials"]:
        assert sum(trial["q"]) == pytest.approx(1) and sum(trial["q_estimated"]) == pytest.approx(1)
        assert min(trial["q_estimated"]) >= 0
        assert trial["error"] == pytest.approx(math.dist(trial["q"], trial["q_estimated"]))
        assert all(float(v * 300).is_integer() for v in trial["q"])  # proportions of 300 images
    assert s["acc_gain"] == pytest.approx(s["acc_after"] - s["acc_before"])
    assert sum(s["source_prior"]) == pytest.approx(1)


@pytest.mark.parametrize(("settings", "message"), [
    ({"val_fraction": 0.0}, "val_fraction"),
    ({"alpha": 0.0}, "alpha"),
    ({"trials": 0}, "trials"),
])
def test_bad_settings_are_refused_before_anything_is_written(settings, message, tmp_path):
    with pytest.raises(UserError, match=message):
        divelab.run("label-shift", out=tmp_path / "run", progress=False, **settings)
    assert not (tmp_path / "run").exists()
