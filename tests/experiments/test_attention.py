"""attention-pooling, attention-scoring and multihead-attention end to end (through the runner) and their pieces."""

from __future__ import annotations

import math

import pytest
import torch

import divelab
from divelab.config import build_config
from divelab.errors import UserError
from divelab.experiments import EXPERIMENTS
from divelab.experiments import attention as chapter
from divelab.experiments.attention import (AttentionPoolingConfig, MultiheadConfig, leave_one_out, nadaraya_watson,
                                           relative_position_check, shift_matrix, target_function, train_kernel_width,
                                           twin_differences)


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run this chapter's experiments through the runner whether or not the registry lists them yet."""
    for experiment in chapter.EXPERIMENTS:
        monkeypatch.setitem(EXPERIMENTS, experiment.name, experiment)


def _headline_finite(name: str, summary: dict) -> None:
    for key in EXPERIMENTS[name].headline:
        assert isinstance(summary[key], (int, float)) and math.isfinite(summary[key]), key


# ---- attention-pooling -----------------------------------------------------------------------------

def test_attention_pooling_run(tmp_path) -> None:
    result = divelab.run("attention-pooling", device="cpu", out=tmp_path / "ap", progress=False)
    s = result.summary
    _headline_finite("attention-pooling", s)
    assert {p.name for p in result.figures} == {"pooling-fits.png", "pooling-weights.png"}
    # the kernels follow f(x); a constant cannot (f spans about 0 … 3.6 on [0, 5])
    assert s["mse_nonparametric"] < s["mse_average"] and s["mse_parametric"] < s["mse_average"]
    assert s["train_loss_last"] < s["train_loss_first"] and len(s["train_loss_history"]) == 6
    # a learned width above 1 is a narrower kernel: each query's weights are more concentrated
    assert (s["learned_w"] > 1) == (s["weight_entropy_parametric"] < s["weight_entropy_nonparametric"])
    assert s["weight_entropy_nonparametric"] < s["weight_entropy_average"] == pytest.approx(math.log(50))


def test_nadaraya_watson_limits() -> None:
    """w → 0: every weight 1/n (average pooling); very large w: the nearest key's value (1-nearest neighbour)."""
    keys = torch.tensor([0.0, 1.0, 2.5, 4.0], dtype=torch.float64)
    values = torch.tensor([3.0, -1.0, 2.0, 7.0], dtype=torch.float64)
    queries = torch.tensor([0.2, 2.0, 3.9], dtype=torch.float64)
    flat, weights = nadaraya_watson(queries, keys, values, w=1e-6)
    torch.testing.assert_close(flat, values.mean().expand(3))
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, dtype=torch.float64))
    sharp, _ = nadaraya_watson(queries, keys, values, w=50.0)
    torch.testing.assert_close(sharp, torch.tensor([3.0, 2.0, 7.0], dtype=torch.float64))


def test_leave_one_out_drops_the_diagonal() -> None:
    x = torch.arange(4.0)
    assert leave_one_out(x).tolist() == [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]]


def test_kernel_width_gradient_descent_lowers_the_leave_one_out_loss() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.sort(torch.rand(40, generator=g, dtype=torch.float64) * 5).values
    y = target_function(x) + 0.3 * torch.randn(40, generator=g, dtype=torch.float64)
    w, history = train_kernel_width(x, y, w0=0.5, epochs=20, lr=0.1)
    assert len(history) == 21 and history[-1] < history[0]
    _, untouched = train_kernel_width(x, y, w0=0.5, epochs=0, lr=0.1)
    assert untouched == history[:1]


@pytest.mark.parametrize("settings, message", [({"n_train": "2"}, "n_train"), ({"noise": "-1"}, "noise")])
def test_pooling_config_rejects_bad_values(settings, message) -> None:
    with pytest.raises(UserError, match=message):
        build_config(AttentionPoolingConfig, settings)


# ---- attention-scoring ------------------------------------------------------------------------------

def test_attention_scoring_run(tmp_path) -> None:
    result = divelab.run("attention-scoring", random_trials=6, device="cpu", out=tmp_path / "as", progress=False)
    s = result.summary
    _headline_finite("attention-scoring", s)
    assert [p.name for p in result.figures] == ["attention-weights.png"]
    assert s["masked_weight_outside_length"] == 0
    # identical keys: both scorings give uniform weights over the valid keys → means of value rows (float32)
    expected = torch.tensor([[[2.0, 3, 4, 5]], [[10, 11, 12, 13]]])
    torch.testing.assert_close(torch.tensor(s["additive_output"]), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(s["dot_output"]), expected, atol=1e-5, rtol=0)
    assert s["dot_uniform_error"] < 1e-5 and s["additive_uniform_error"] < 1e-5
    assert 0 <= s["max_abs_diff"] < 1e-12 and 0 <= s["max_grad_diff"] < 1e-12
    for row in s["masked_softmax_per_query"][0]:
        assert sum(row) == pytest.approx(1.0, abs=1e-6)


def test_twin_check_detects_a_wrong_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reported differences are not vacuous: dropping the 1/√d scale stands out."""
    assert twin_differences(4, seed=0, device=torch.device("cpu"))["sdpa"] < 1e-12
    real = chapter.scaled_dot_product_attention
    monkeypatch.setattr(chapter, "scaled_dot_product_attention",
                        lambda q, k, v, mask, is_causal=False: real(q, k, v, mask, is_causal=is_causal, scale=1.0))
    broken = twin_differences(4, seed=0, device=torch.device("cpu"))
    assert broken["sdpa"] > 1e-3 and broken["grad"] > 1e-3


# ---- multihead-attention -------------------------------------------------------------------------

def test_multihead_attention_run(tmp_path) -> None:
    result = divelab.run("multihead-attention", device="cpu", out=tmp_path / "mha", progress=False)
    s = result.summary
    _headline_finite("multihead-attention", s)
    assert {p.name for p in result.figures} == {"positional-encoding.png", "heads.png"}
    for key in ("max_abs_diff", "max_grad_diff", "cache_max_diff"):
        assert 0 <= s[key] < 1e-12, key
    assert s["cross_output_shape"] == [2, 4, 100] and s["cross_weights_shape"] == [2, 5, 4, 6]
    assert s["self_output_shape"] == [2, 4, 100] and s["self_weights_shape"] == [2, 4, 4]
    assert s["encoding_shape"] == [60, 32]
    assert s["relative_position_max_error"] < 1e-10
    assert s["relative_position_fit_error"] < 1e-5 and s["relative_position_fit_matrix_diff"] < 1e-4


def test_shift_matrix_is_a_rotation_that_composes() -> None:
    M1, M3 = shift_matrix(1, 8), shift_matrix(3, 8)
    torch.testing.assert_close(M1 @ M1 @ M1, M3)
    torch.testing.assert_close(M1 @ M1.T, torch.eye(8, dtype=torch.float64))


def test_a_wrong_shift_matrix_fails_the_relative_position_check(monkeypatch: pytest.MonkeyPatch) -> None:
    assert relative_position_check(16, 500)["relative_position_max_error"] < 1e-10
    monkeypatch.setattr(chapter, "shift_matrix", lambda k, d: shift_matrix(k, d).T)   # rotates the wrong way
    assert relative_position_check(16, 500)["relative_position_max_error"] > 0.1


@pytest.mark.parametrize("settings, message", [({"encoding_dim": "7"}, "encoding_dim"),
                                               ({"num_steps": "0"}, "num_steps"), ({"max_len": "10"}, "max_len")])
def test_multihead_config_rejects_bad_values(settings, message) -> None:
    with pytest.raises(UserError, match=message):
        build_config(MultiheadConfig, settings)
