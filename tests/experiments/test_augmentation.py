"""augmentation end to end on the fake data set: both sub-runs, the reported gap, exact resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import divelab
from divelab.errors import UserError

TINY = {"train_size": 120, "test_size": 64, "batch_size": 32, "width": 4}


def metrics(directory: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (directory / f"metrics-{name}.jsonl").read_text().splitlines()]


def test_both_runs_report_train_test_and_gap(fake_data, tmp_path):
    result = divelab.run("augmentation", epochs=2, out=tmp_path / "aug", progress=False, **TINY)
    s = result.summary
    assert s["train_size"] == 120 and s["test_size"] == 64
    for name in ("plain", "augmented"):
        assert 0 <= s[f"{name}_train_acc"] <= 1 and 0 <= s[f"{name}_test_acc"] <= 1
        assert s[f"{name}_gap"] == pytest.approx(s[f"{name}_train_acc"] - s[f"{name}_test_acc"])
        records = metrics(tmp_path / "aug", name)
        assert [r["epoch"] for r in records] == [1, 2]
        assert records[-1]["train_eval_acc"] == s[f"{name}_train_acc"]
        assert records[-1]["gap"] == pytest.approx(s[f"{name}_gap"])
    assert s["gap_reduction"] == pytest.approx(s["plain_gap"] - s["augmented_gap"])
    assert {p.name for p in result.figures} == {"examples.png", "accuracy.png"}


def test_sizes_are_capped_by_the_data(fake_data, tmp_path):
    """The fake set has 512 training and 128 test images; larger requests take them all."""
    s = divelab.run("augmentation", epochs=1, out=tmp_path / "aug", progress=False, width=4).summary
    assert s["train_size"] == 512 and s["test_size"] == 128


def test_the_learning_rate_decays_along_a_cosine(fake_data, tmp_path):
    divelab.run("augmentation", epochs=4, lr=0.08, out=tmp_path / "aug", progress=False, **TINY)
    want = [0.04 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]  # 0.08 … 0.0117
    assert [r["lr"] for r in metrics(tmp_path / "aug", "plain")] == pytest.approx(want, rel=1e-12)


def test_resumed_run_ends_where_an_uninterrupted_one_ends(fake_data, tmp_path):
    """Augmented batches depend only on (seed, epoch, batch), so stopping after epoch 1 changes nothing."""
    whole = divelab.run("augmentation", epochs=2, out=tmp_path / "whole", progress=False, **TINY).summary
    divelab.run("augmentation", epochs=1, out=tmp_path / "split", progress=False, **TINY)
    resumed = divelab.run("augmentation", epochs=2, out=tmp_path / "split", resume=True, progress=False).summary
    for key in ("plain_train_acc", "plain_test_acc", "augmented_train_acc", "augmented_test_acc"):
        assert resumed[key] == whole[key], key
    for name in ("plain", "augmented"):
        keep = ("train_loss", "train_acc", "test_loss", "train_eval_acc")
        assert [{k: r[k] for k in keep} for r in metrics(tmp_path / "split", name)] == \
            [{k: r[k] for k in keep} for r in metrics(tmp_path / "whole", name)]


def test_no_augmentation_makes_both_runs_equal(fake_data, tmp_path):
    """With every transform off, the two sub-runs are the same training: the comparison is fair."""
    s = divelab.run("augmentation", epochs=2, padding=0, flip_p=0, degrees=0, scale_min=1, scale_max=1,
                    out=tmp_path / "aug", progress=False, **TINY).summary
    assert s["plain_train_acc"] == s["augmented_train_acc"] and s["plain_test_acc"] == s["augmented_test_acc"]


@pytest.mark.parametrize("setting", [{"train_size": 0}, {"momentum": 1.0}, {"padding": -1}, {"scale_min": 2.0},
                                     {"flip_p": 2.0}, {"width": 0}])
def test_bad_settings_are_user_errors(setting, fake_data, tmp_path):
    with pytest.raises(UserError):
        divelab.run("augmentation", out=tmp_path / "aug", progress=False, **setting)
