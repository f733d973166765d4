"""``weight-decay`` on small settings: decay lowers the test loss, the twins agree, a run resumes."""

from __future__ import annotations

import pytest

import divelab
from divelab.errors import UserError


def run(name, tmp_path, **settings):
    return divelab.run(name, out=tmp_path / name, progress=False, **settings)


def test_weight_decay_lowers_the_test_loss_and_the_twins_agree(tmp_path):
    result = run("weight-decay", tmp_path, epochs=30, lambdas="0,3,30")
    s = result.summary
    assert s["best_lambda"] > 0
    assert s["best_test_loss"] * 10 < s["no_decay_test_loss"]
    assert s["no_decay_to_best_ratio"] == pytest.approx(s["no_decay_test_loss"] / s["best_test_loss"])
    # float32 runs of the two versions: the same trajectory up to rounding
    assert s["max_weight_diff"] < 1e-4 and s["max_scratch_library_diff"] < 1e-5 * s["no_decay_test_loss"]
    assert s["weight_norm_scratch"][0] > 10 * s["weight_norm_scratch"][-1]  # decay shrinks the weights
    assert [p.name for p in result.figures] == ["lambda.png"]


def test_weight_decay_resumes_where_an_uninterrupted_run_ends(tmp_path):
    settings = {"lambdas": "0,10"}
    whole = run("weight-decay", tmp_path / "whole", epochs=4, **settings).summary
    run("weight-decay", tmp_path / "split", epochs=2, **settings)
    resumed = divelab.run("weight-decay", out=tmp_path / "split" / "weight-decay", resume=True, progress=False,
                          epochs=4).summary
    for key in ("test_loss_scratch", "test_loss_library", "train_loss_scratch"):
        assert resumed[key] == whole[key], key


@pytest.mark.parametrize("lambdas", ["1,3", "0,-1", "0,nan", "a"])
def test_weight_decay_rejects_bad_lambda_lists(lambdas, tmp_path):
    with pytest.raises(UserError, match="lambdas|λ"):
        run("weight-decay", tmp_path, lambdas=lambdas)
