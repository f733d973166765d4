"""``attention-pooling`` end to end (through the runner) and its pieces: Nadaraya–Watson pooling,
leave-one-out keys and the learned kernel width."""

from __future__ import annotations

import math

import pytest
import torch

import divelab
from divelab.config import build_config
from divelab.errors import UserError
from divelab.experiments.attention.pooling import (AttentionPoolingConfig, leave_one_out, nadaraya_watson,
                                                   target_function, train_kernel_width)
from tests.experiments.attention.checks import headline_finite


def test_attention_pooling_run(tmp_path) -> None:
    result = divelab.run("attention-pooling", device="cpu", out=tmp_path / "ap", progress=False)
    s = result.summary
    headline_finite("attention-pooling", s)
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
