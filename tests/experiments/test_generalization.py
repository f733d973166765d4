"""The generalisation experiments on small settings: each shows its phenomenon on a tiny
deterministic run (thresholds, never exact training results), and the weight-decay twins agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import divelab
from divelab.errors import UserError
from divelab.experiments.generalization import least_squares, weight_decay_library, weight_decay_scratch


def run(name, tmp_path, **settings):
    return divelab.run(name, out=tmp_path / name, progress=False, **settings)


# ---- polyfit -------------------------------------------------------------------------------

def test_polyfit_underfits_fits_and_overfits(tmp_path):
    result = run("polyfit", tmp_path, epochs=150, num_test=300)
    s = result.summary
    assert s["degree_19_train_loss"] * 10 < s["degree_19_test_loss"]  # overfit: a wide train–test gap
    assert s["degree_1_train_loss"] > 10 * s["degree_3_train_loss"]  # underfit: even the training loss is high
    assert s["degree_1_test_loss"] > 10 * s["degree_3_test_loss"]
    assert s["degree_3_test_loss"] < s["degree_19_test_loss"]
    assert s["degree_3_train_loss"] < 4 * s["noise_loss"]  # the right model gets down to the noise
    assert len(s["degree_3_coefficients"]) == 4 and s["degree_3_coefficient_error"] < 1.0
    assert {p.name for p in result.figures} == {"losses.png", "fits.png"}
    for degree in (1, 3, 19):
        assert (tmp_path / "polyfit" / f"metrics-degree-{degree}.jsonl").is_file()


@pytest.mark.parametrize("degrees", ["-1", "1,x", "3,3", "", "1,31"])
def test_polyfit_rejects_bad_degree_lists(degrees, tmp_path):
    with pytest.raises(UserError, match="degrees"):
        run("polyfit", tmp_path, degrees=degrees)


# ---- capacity ------------------------------------------------------------------------------

def test_capacity_shows_the_u_curve_and_the_shrinking_training_set(tmp_path):
    s = run("capacity", tmp_path, repeats=3, max_degree=9, sizes="10,20,50,200").summary
    train, test = s["train_loss_by_degree"], s["test_loss_by_degree"]
    assert len(train) == len(test) == 10
    # nested least-squares models: more capacity never fits the training set worse
    assert all(b <= a * (1 + 1e-3) for a, b in zip(train, train[1:]))
    best = s["best_degree"]
    assert 0 < best < 9 and s["best_test_loss"] == pytest.approx(min(test), rel=1e-3)
    assert s["best_test_loss"] * 10 < test[0] and s["best_test_loss"] * 10 < test[-1]  # the U
    assert s["test_loss_by_size"][-1] * 10 < s["test_loss_by_size"][0]  # fewer samples: worse test loss,
    assert s["train_loss_by_size"][-1] > s["train_loss_by_size"][0]  # but a lower training loss


def test_least_squares_recovers_an_exact_polynomial():
    x = torch.linspace(-2, 2, 30, dtype=torch.float64)
    features = torch.stack([x ** i for i in range(8)], dim=1) / torch.tensor([1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7])
    w = torch.arange(1.0, 9.0, dtype=torch.float64)
    torch.testing.assert_close(least_squares(features, features @ w), w, atol=1e-6, rtol=1e-8)


@pytest.mark.parametrize("settings", [{"max_degree": 20}, {"sizes": "5,100"}, {"repeats": 0}])
def test_capacity_rejects_undetermined_fits(settings, tmp_path):
    with pytest.raises(UserError):
        run("capacity", tmp_path, **settings)


# ---- weight-decay --------------------------------------------------------------------------

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


@pytest.mark.parametrize("lam", [0.0, 0.5, 3.0])
def test_scratch_penalty_and_library_weight_decay_give_equal_weights(lam):
    """The experiment's two set-ups, in float64, after 60 minibatch steps from the same start."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20, 200, generator=g, dtype=torch.float64)
    y = X.sum(1) * 0.01 + 0.05 + 0.01 * torch.randn(20, generator=g, dtype=torch.float64)
    w0, b0 = torch.randn(1, 200, generator=g, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    scratch, library = weight_decay_scratch(w0, b0, lam, lr=0.003), weight_decay_library(w0, b0, lam, lr=0.003)
    for step in range(60):
        rows = slice(5 * (step % 4), 5 * (step % 4) + 5)
        for setup in (scratch, library):
            loss = setup.loss_fn(setup.model(X[rows]), y[rows])
            setup.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            setup.optimizer.step()
    assert scratch.weight.dtype == torch.float64
    torch.testing.assert_close(scratch.weight, library.weight, atol=1e-6, rtol=0)
    torch.testing.assert_close(scratch.model.bias, library.model.net.bias, atol=1e-6, rtol=0)
    assert not torch.allclose(scratch.weight, w0)


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


# ---- kfold ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shuffle", [True, False])
def test_kfold_chooses_decay_with_scikit_learn_folds(shuffle, tmp_path):
    result = run("kfold", tmp_path, epochs=30, lambdas="0,30", folds=4, shuffle=shuffle)
    s = result.summary
    assert s["folds_match_sklearn"] is True
    assert s["fold_sizes"] == [5, 5, 5, 5]
    for lam in ("0", "30"):
        assert len(s[f"fold_val_loss_lambda_{lam}"]) == 4
    means = s["cv_val_loss_mean"]
    assert means == pytest.approx([np.mean(s["fold_val_loss_lambda_0"]), np.mean(s["fold_val_loss_lambda_30"])],
                                  rel=1e-3)
    assert s["chosen_lambda"] == s["lambdas"][int(np.argmin(means))]
    assert s["chosen_lambda"] == 30  # cross-validation rejects the unregularised model ...
    assert s["test_loss"] < 0.1  # ... and the retrained model generalises (λ = 0 scores ≈ 70 here)
    assert [p.name for p in result.figures] == ["cross-validation.png"]


@pytest.mark.parametrize("settings", [{"folds": 1}, {"folds": 21}, {"seed": -1}])
def test_kfold_rejects_impossible_folds(settings, tmp_path):
    with pytest.raises(UserError):
        run("kfold", tmp_path, **settings)
