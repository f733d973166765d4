"""``multihead-attention`` end to end (through the runner) and the relative-position check of the
positional encoding."""

from __future__ import annotations

import pytest
import torch

import divelab
from divelab.config import build_config
from divelab.errors import UserError
from divelab.experiments.attention import multihead
from divelab.experiments.attention.multihead import MultiheadConfig, relative_position_check, shift_matrix
from tests.experiments.attention.checks import headline_finite


def test_multihead_attention_run(tmp_path) -> None:
    result = divelab.run("multihead-attention", device="cpu", out=tmp_path / "mha", progress=False)
    s = result.summary
    headline_finite("multihead-attention", s)
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
    monkeypatch.setattr(multihead, "shift_matrix", lambda k, d: shift_matrix(k, d).T)   # rotates the wrong way
    assert relative_position_check(16, 500)["relative_position_max_error"] > 0.1


@pytest.mark.parametrize("settings, message", [({"encoding_dim": "7"}, "encoding_dim"),
                                               ({"num_steps": "0"}, "num_steps"), ({"max_len": "10"}, "max_len")])
def test_multihead_config_rejects_bad_values(settings, message) -> None:
    with pytest.raises(UserError, match=message):
        build_config(MultiheadConfig, settings)
