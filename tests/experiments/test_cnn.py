"""The CNN experiments: sizes from the registry presets, per-batch resizing, errors, and (slow)
the accuracy of the course's LeNet and of ResNet on the real data set."""

from __future__ import annotations

import pytest
import torch

import divelab
from divelab.errors import UserError
from divelab.experiments.cnn import Resized
from divelab.models.registry import MODELS


def test_resized_upscales_each_batch_only_when_needed():
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append(tuple(x.shape))
            return x.mean((1, 2, 3))

    Resized(Probe(), 32)(torch.rand(4, 1, 28, 28))
    Resized(Probe(), 28)(torch.rand(4, 1, 28, 28))
    assert seen == [(4, 1, 32, 32), (4, 1, 28, 28)]


def test_a_constant_image_stays_constant_when_resized():
    out = Resized(torch.nn.Identity(), 96)(torch.full((2, 1, 28, 28), 0.25))
    assert out.shape == (2, 1, 96, 96) and torch.allclose(out, torch.tensor(0.25))


def test_architecture_run_reports_its_size_and_cost(fake_data, tmp_path):
    summary = divelab.run("vgg", epochs=1, width=0.0625, out=tmp_path / "vgg", progress=False).summary
    spec = MODELS["vgg"]
    assert summary["input_size"] == spec.cpu_input_size == 32 and summary["width"] == 0.0625
    assert summary["mflops_per_image"] > 0 and 0 <= summary["test_acc"] <= 1
    # utilisation: 3 × the forward FLOPs of each of the 512 fake images per second of training, over the peak
    achieved = 3 * summary["mflops_per_image"] * 1e6 * 512 / summary["seconds_per_epoch"] / 1e9
    assert summary["model_gflops_per_s"] == pytest.approx(achieved, rel=1e-6)
    assert summary["mfu"] == pytest.approx(summary["model_gflops_per_s"] / summary["peak_gflops_per_s"])
    assert 0 < summary["mfu"] < 1


def test_too_small_an_input_is_a_user_error(fake_data, tmp_path):
    with pytest.raises(UserError, match="alexnet.*at least"):
        divelab.run("alexnet", epochs=1, preset="course", input_size=28, out=tmp_path / "a", progress=False)
    assert not (tmp_path / "a").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name, target", [
    ("lenet", 0.78),   # the course's band is 0.80–0.82 (measured 0.8166); sigmoid LeNet at lr 0.9 jumps ±0.01
    ("resnet", 0.91),  # issue target 0.92 (measured 0.919–0.92x); a margin for thread-count rounding
])
def test_default_settings_reach_the_course_accuracy(name, target, tmp_path, monkeypatch):
    monkeypatch.delenv("DIVELAB_DATA", raising=False)
    assert divelab.run(name, out=tmp_path / name, progress=False).summary["test_acc"] >= target
