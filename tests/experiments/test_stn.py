"""stn end to end on the fake data set: both sub-runs, identity at the start, fixed seeded
distortions, the scratch transformer as a twin, exact resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import divelab
from divelab.errors import UserError
from divelab.experiments.stn import STNConfig, _distorted_subset, correlation, draw_distortions

TINY = {"train_size": 200, "test_size": 64, "batch_size": 50, "width": 4}


def metrics(directory: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (directory / f"metrics-{name}.jsonl").read_text().splitlines()]


def test_both_runs_are_reported(fake_data, tmp_path):
    result = divelab.run("stn", epochs=2, out=tmp_path / "stn", progress=False, **TINY)
    s = result.summary
    assert s["train_size"] == 200 and s["test_size"] == 64
    for name in ("plain", "stn"):
        records = metrics(tmp_path / "stn", name)
        assert [r["epoch"] for r in records] == [1, 2]
        assert s[f"test_acc_{name}"] == records[-1]["test_acc"]
    assert s["parameters_stn"] > s["parameters_plain"]
    assert s["stn_gain"] == pytest.approx(s["test_acc_stn"] - s["test_acc_plain"])
    assert -1 <= s["angle_corr"] <= 1
    assert {p.name for p in result.figures} == {"curves.png", "transformed.png"}


def test_untrained_transformer_is_the_identity(fake_data, tmp_path):
    """No training: θ = [I | 0] for every image, so both models are the same function (same accuracy)
    and the transformer's angle is constant (no correlation to report)."""
    s = divelab.run("stn", epochs=0, out=tmp_path / "stn", progress=False, **TINY).summary
    assert s["test_acc_stn"] == s["test_acc_plain"]
    assert s["angle_corr"] is None


def test_resumed_run_ends_where_an_uninterrupted_one_ends(fake_data, tmp_path):
    whole = divelab.run("stn", epochs=2, out=tmp_path / "whole", progress=False, **TINY).summary
    divelab.run("stn", epochs=1, out=tmp_path / "split", progress=False, **TINY)
    resumed = divelab.run("stn", epochs=2, out=tmp_path / "split", resume=True, progress=False).summary
    for key in ("test_acc_plain", "test_acc_stn", "angle_corr"):
        assert resumed[key] == whole[key], key
    keep = ("train_loss", "train_acc", "test_loss", "test_acc")
    for name in ("plain", "stn"):
        assert [{k: r[k] for k in keep} for r in metrics(tmp_path / "split", name)] == \
            [{k: r[k] for k in keep} for r in metrics(tmp_path / "whole", name)]


def test_scratch_transformer_trains_like_the_library_one(fake_data, tmp_path):
    """scratch=True swaps in the hand-written affine_grid/grid_sample; float32 rounding differs
    slightly, so the losses agree closely, not bit for bit."""
    a = metrics(divelab.run("stn", epochs=1, out=tmp_path / "a", progress=False, **TINY).out_dir, "stn")
    b = metrics(divelab.run("stn", epochs=1, scratch=True, out=tmp_path / "b", progress=False, **TINY).out_dir, "stn")
    for key in ("train_loss", "test_loss"):
        assert b[0][key] == pytest.approx(a[0][key], rel=1e-4), key


# ---- the distorted data ------------------------------------------------------------------------

def test_distortions_are_drawn_within_the_settings():
    cfg = STNConfig(degrees=30, scale_min=0.8, scale_max=0.9, translate=2)
    angle, scale, shift = draw_distortions(5000, cfg, torch.Generator().manual_seed(0))
    assert angle.abs().max() <= math.radians(30) and angle.abs().max() > math.radians(29)
    assert 0.8 <= scale.min() and scale.max() <= 0.9
    assert shift.shape == (5000, 2) and shift.abs().max() <= 2 and shift.abs().max() > 1.9


def test_distorted_subset_is_fixed_by_the_seed():
    g = torch.Generator().manual_seed(0)
    images, labels = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8, generator=g), torch.arange(50) % 10
    cfg = STNConfig()
    first, again, other = (_distorted_subset(images, labels, 20, cfg, seed) for seed in (1, 1, 2))
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    assert not torch.equal(first[1], other[1])
    originals, distorted, picked, _angle = first
    assert originals.shape == distorted.shape == (20, 1, 28, 28) and picked.shape == (20,)
    assert not torch.allclose(distorted, originals, atol=0.1)
    assert distorted.min() >= 0 and distorted.max() <= 1 + 1e-6  # bilinear mixing and zero padding


def test_no_distortion_leaves_the_images_as_they_are():
    images = torch.randint(0, 256, (30, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    cfg = STNConfig(degrees=0, scale_min=1, scale_max=1, translate=0)
    originals, distorted, _labels, angle = _distorted_subset(images, torch.zeros(30), 30, cfg, seed=0)
    torch.testing.assert_close(distorted, originals, atol=1e-5, rtol=0)  # float32 rounding of pixel centres
    assert (angle == 0).all()


def test_correlation():
    a = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert correlation(a, 2 * a + 1) == pytest.approx(1.0)
    assert correlation(a, -a) == pytest.approx(-1.0)
    assert correlation(a, torch.zeros(4)) is None


@pytest.mark.parametrize("setting", [{"train_size": 0}, {"width": 0}, {"degrees": -1}, {"degrees": 200},
                                     {"scale_min": 0}, {"scale_min": 1.2}, {"translate": -1}])
def test_bad_settings_are_user_errors(setting, fake_data, tmp_path):
    with pytest.raises(UserError):
        divelab.run("stn", out=tmp_path / "stn", progress=False, **setting)
