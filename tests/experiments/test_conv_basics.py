"""conv-basics end to end (through the runner) and its pieces: kernel learning, the twin check."""

from __future__ import annotations

import math

import pytest
import torch

import divelab
from divelab.config import build_config
from divelab.errors import UserError
from divelab.experiments import EXPERIMENTS
from divelab.experiments import conv_basics
from divelab.experiments.conv_basics import ConvBasicsConfig, edge_image, learn_kernel, twin_differences
from divelab.scratch.conv import Conv2dScratch, corr2d


def _edge_problem(dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    X = edge_image().to(dtype)
    return X, corr2d(X, torch.tensor([[1.0, -1.0]], dtype=dtype))


def test_run_reports_the_course_results(tmp_path) -> None:
    result = divelab.run("conv-basics", random_trials=6, device="cpu", out=tmp_path / "cb", progress=False)
    s = result.summary
    assert {p.name for p in result.figures} == {"edge-detection.png", "kernel-learning.png", "pooling.png"}
    for key in EXPERIMENTS["conv-basics"].headline:
        assert isinstance(s[key], float) and math.isfinite(s[key]), key
    # the course's worked examples, exactly
    assert s["corr2d_example"] == [[19, 25], [37, 43]]
    assert s["edge_map_row"] == [0, 1, 0, 0, 0, -1, 0] and s["edge_map_transposed_max_abs"] == 0
    assert s["multi_in_example"] == [[56, 72], [104, 120]] and s["multi_out_shape"] == [3, 2, 2]
    assert s["multi_out_channel0_equals_multi_in"]
    assert s["pool_examples"]["max 3×3, pad 1, stride 2"] == [[5, 7], [13, 15]]
    assert s["pool_examples"]["avg 2×2 of arange(9)"] == [[2, 3], [5, 6]]
    assert s["shapes_match_formula"] and [e["output"] for e in s["shape_examples"]] == [[8, 8], [8, 8], [4, 4], [2, 2]]
    # 1×1 convolution = matmul over channels (float32: a few rounding units)
    assert s["conv1x1_matmul_max_diff"] < 1e-5
    # scratch vs torch in float64 on random shapes
    for key in ("conv_max_diff", "conv_grad_max_diff", "pool_max_diff", "pool_grad_max_diff"):
        assert 0 <= s[key] < 1e-12, key
    assert s["conv_max_diff_float32"] < 1e-4
    # kernel learning: 10 steps of lr 0.03, loss down at every step (lr < 2/60), the same as nn.Conv2d
    losses = s["kernel_loss_history"]
    assert s["kernel_steps"] == 10 and len(losses) == 11
    assert all(b < a for a, b in zip(losses, losses[1:]))
    initial_error = max(abs(w - t) for w, t in zip(s["initial_kernel"], (1.0, -1.0)))
    assert s["learned_kernel_error"] < initial_error / 5
    assert s["twin_kernel_max_diff"] < 1e-6


def test_gradient_descent_recovers_the_kernel_exactly() -> None:
    """The problem is realisable and quadratic: with lr 0.03 the error shrinks by ≥ 0.8 per step."""
    X, Y = _edge_problem()
    torch.manual_seed(0)
    conv = Conv2dScratch(1, 1, (1, 2), bias=False).double()
    history = learn_kernel(X, Y, conv, steps=100, lr=0.03)
    assert len(history) == 101 and history[0]["step"] == 0
    learned = conv.weight.detach().reshape(-1)
    assert torch.allclose(learned, torch.tensor([1.0, -1.0], dtype=torch.float64), atol=1e-7)
    assert history[-1]["loss"] < 1e-12


def test_learning_rate_above_two_over_curvature_diverges() -> None:
    """The largest eigenvalue of the loss's Hessian is 60: lr 0.04 > 2/60 makes the loss grow."""
    X, Y = _edge_problem()
    torch.manual_seed(0)
    conv = Conv2dScratch(1, 1, (1, 2), bias=False).double()
    losses = [r["loss"] for r in learn_kernel(X, Y, conv, steps=20, lr=0.04)]
    assert losses[-1] > 10 * losses[0]


def test_zero_steps_keep_the_initial_kernel() -> None:
    X, Y = _edge_problem()
    conv = Conv2dScratch(1, 1, (1, 2), bias=False).double()
    before = conv.weight.detach().clone()
    history = learn_kernel(X, Y, conv, steps=0, lr=0.03)
    assert len(history) == 1 and torch.equal(conv.weight, before)


def test_twin_check_detects_a_wrong_convolution(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reported differences are not vacuous: a true convolution (flipped kernel) stands out."""
    honest = twin_differences(4, seed=0, device=torch.device("cpu"), dtype=torch.float64)
    assert honest["conv"] < 1e-12
    real_conv2d = conv_basics.conv2d
    monkeypatch.setattr(conv_basics, "conv2d", lambda x, w, *args: real_conv2d(x, w.flip(-1, -2), *args))
    broken = twin_differences(4, seed=0, device=torch.device("cpu"), dtype=torch.float64)
    assert broken["conv"] > 1e-2 and broken["conv_grad"] > 1e-2


def test_config_rejects_no_random_trials() -> None:
    with pytest.raises(UserError, match="random_trials"):
        build_config(ConvBasicsConfig, {"random_trials": "0"})
