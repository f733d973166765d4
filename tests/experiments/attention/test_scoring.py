"""``attention-scoring`` end to end (through the runner), and its twin check is not vacuous."""

from __future__ import annotations

import pytest
import torch

import divelab
from divelab.experiments.attention import scoring
from divelab.experiments.attention.scoring import twin_differences
from tests.experiments.attention.checks import headline_finite


def test_attention_scoring_run(tmp_path) -> None:
    result = divelab.run("attention-scoring", random_trials=6, device="cpu", out=tmp_path / "as", progress=False)
    s = result.summary
    headline_finite("attention-scoring", s)
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
    real = scoring.scaled_dot_product_attention
    monkeypatch.setattr(scoring, "scaled_dot_product_attention",
                        lambda q, k, v, mask, is_causal=False: real(q, k, v, mask, is_causal=is_causal, scale=1.0))
    broken = twin_differences(4, seed=0, device=torch.device("cpu"))
    assert broken["sdpa"] > 1e-3 and broken["grad"] > 1e-3
