"""The stability experiments on tiny settings and fake data: each shows its phenomenon."""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import divelab
from divelab.config import RunConfig
from divelab.data import TensorLoader
from divelab.experiment import RunContext
from divelab.experiments.stability import _fit_or_diverge, epochs_to_target, hidden_ratio


def test_init_schemes_explode_vanish_or_keep_the_scale(fake_data, tmp_path):
    s = divelab.run("init", depth=10, width=128, samples=64, draws=4, out=tmp_path / "init", progress=False).summary
    assert s["relu_n_0_1_std_last"] / s["relu_n_0_1_std_first"] > 1e6        # ×√(128/2) = 8 per layer
    assert s["relu_n_0_0_01_std_last"] / s["relu_n_0_0_01_std_first"] < 1e-6
    for scheme in ("relu_he_normal", "relu_he_uniform", "tanh_xavier_normal", "tanh_xavier_uniform"):
        assert 1 / 3 < s[f"{scheme}_std_last"] / s[f"{scheme}_std_first"] < 3, scheme
    assert s["same_seed_max_abs_diff"] == 0.0   # scratch and nn.init: bit-for-bit with one seed
    assert s["max_rel_diff"] < 0.5 and s["max_z"] < 5  # independent draws: equal within noise


def test_grad_flow_regimes_are_ordered(fake_data, tmp_path):
    """At initialisation, before any training: vanishing ≪ healthy ≪ exploding."""
    s = divelab.run("grad-flow", epochs=0, out=tmp_path / "gf", progress=False).summary
    assert s["sigmoid_normal_grad_ratio"] < 0.1
    assert s["tanh_normal_grad_ratio"] > 100
    for healthy in ("relu_he", "tanh_xavier", "sigmoid_normal_bn"):
        assert 0.1 < s[f"{healthy}_grad_ratio"] < 10, healthy
    assert s["sigmoid_normal_grad_ratio"] < s["relu_he_grad_ratio"] < s["tanh_normal_grad_ratio"]


def test_hidden_ratio_compares_the_first_and_last_hidden_layers():
    assert hidden_ratio([100.0, 8.0, 5.0, 2.0, 0.5]) == 4.0


def test_batchnorm_scratch_and_nn_train_alike(fake_data, tmp_path):
    """Same seed, same data: the scratch-BN LeNet follows the nn.BatchNorm one."""
    a = divelab.run("batchnorm", epochs=2, target_acc=0.3, out=tmp_path / "a", progress=False)
    b = divelab.run("batchnorm-scratch", epochs=2, target_acc=0.3, out=tmp_path / "b", progress=False)
    for key in ("bn_train_loss", "bn_test_loss", "no_bn_train_loss"):
        assert a.summary[key] == pytest.approx(b.summary[key], rel=1e-3), key
    assert a.summary["bn_test_acc"] == pytest.approx(b.summary["bn_test_acc"], abs=0.02)
    assert a.summary["bn_epochs_to_target"] == b.summary["bn_epochs_to_target"]
    assert (tmp_path / "a" / "metrics-bn.jsonl").is_file() and (tmp_path / "a" / "metrics-no-bn.jsonl").is_file()


def test_epochs_to_target():
    history = [{"epoch": 1, "test_acc": 0.5}, {"epoch": 2, "test_acc": 0.81}, {"epoch": 3, "test_acc": 0.79}]
    assert epochs_to_target(history, 0.8) == 2
    assert epochs_to_target(history, 0.9) is None


def test_grad_clip_clips_the_clipped_run_only(fake_data, tmp_path):
    s = divelab.run("grad-clip", epochs=1, hidden=16, max_norm=1e-3, out=tmp_path / "gc", progress=False).summary
    assert s["above_max_norm_fraction"] == 1.0 and s["unclipped_above_max_norm_fraction"] == 1.0
    assert s["grad_norm_max"] > 1e-3            # norms are logged before clipping
    assert s["train_loss"] != s["unclipped_train_loss"]  # clipping changed the updates
    assert not s["diverged"] and not s["unclipped_diverged"]


class NanAfter:
    """Cross-entropy that turns NaN from training batch ``n + 1`` on."""

    def __init__(self, n: int):
        self.n, self.calls = n, 0

    def __call__(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = F.cross_entropy(out, target)
        return loss * math.nan if self.calls > self.n else loss


def test_a_diverging_run_is_reported_not_raised(tmp_path):
    """4 batches per epoch, NaN from the 5th: the sub-run ends in epoch 2, epoch 1 is kept."""
    x, y = torch.randn(32, 3), torch.randint(0, 2, (32,))
    model = nn.Linear(3, 2)
    ctx = RunContext(experiment="t", config=RunConfig(epochs=3), out_dir=Path(tmp_path), device=torch.device("cpu"),
                     progress=False)
    trainer = ctx.trainer(model, NanAfter(4), torch.optim.SGD(model.parameters(), lr=0.1),
                          TensorLoader(x, y, batch_size=8), name="nan")
    history, diverged_epoch = _fit_or_diverge(ctx, trainer)
    assert diverged_epoch == 2 and [r["epoch"] for r in history] == [1]
    assert ctx.seconds is not None and ctx.seconds > 0
