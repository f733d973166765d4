"""model-selection: the ridge readout against scikit-learn, the bank's models, the exact
selection table against enumeration of every subset, the data split, settings, and short runs."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

import divelab
from divelab.analysis.selection import expected_max_binomial, expected_max_empirical
from divelab.data.idx import write_idx
from divelab.errors import UserError
from divelab.experiments.model_selection import (ModelSelectionConfig, draw_model, feature_bank, relu_features,
                                                 ridge_readout, selection_table, split_sizes, validation_ranking)

SMALL = {"bank": 256, "max_features": 128, "min_features": 8}  # fast pools for the runs below


# ---- the random-features model --------------------------------------------------------------

@pytest.mark.twin
def test_ridge_readout_equals_sklearn_ridge_with_an_intercept():
    from sklearn.linear_model import Ridge

    gen = torch.Generator().manual_seed(0)
    n, k, lam = 60, 12, 0.05
    phi = torch.rand(n, k, generator=gen, dtype=torch.float64) * torch.linspace(0.5, 3, k, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (n,), generator=gen), 10).to(torch.float64)
    pc, yc = phi - phi.mean(0), y - y.mean(0)
    gram, cross = pc.T @ pc / n, pc.T @ yc / n
    beta, intercept = ridge_readout(gram, cross, phi.mean(0), y.mean(0), lam)
    scale = gram.diagonal().mean().item()
    # sklearn minimises ‖y − Xw − b‖² + α‖w‖², i.e. n times ours with α = n λ s
    ridge = Ridge(alpha=n * lam * scale, fit_intercept=True, solver="cholesky").fit(phi.numpy(), y.numpy())
    np.testing.assert_allclose(beta.T.numpy(), ridge.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(intercept.numpy(), ridge.intercept_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose((phi @ beta + intercept).numpy(), ridge.predict(phi.numpy()), rtol=1e-8, atol=1e-10)


def test_ridge_readout_tends_to_least_squares_and_shrinks_with_lambda():
    gen = torch.Generator().manual_seed(1)
    phi = torch.randn(100, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(100, 3, generator=gen, dtype=torch.float64)
    gram, cross, zero = phi.T @ phi / 100, phi.T @ y / 100, torch.zeros(6, dtype=torch.float64)
    lstsq = torch.linalg.lstsq(phi, y).solution  # means taken as 0: no intercept
    torch.testing.assert_close(ridge_readout(gram, cross, zero, torch.zeros(3), 1e-12)[0], lstsq, rtol=1e-8,
                               atol=1e-10)
    norms = [ridge_readout(gram, cross, zero, torch.zeros(3), lam)[0].norm().item() for lam in (0.01, 0.1, 1, 10)]
    assert all(a > b for a, b in zip(norms, norms[1:]))
    beta, intercept = ridge_readout(gram.float(), cross.float(), zero.float(), torch.zeros(3), 0.1)
    assert beta.dtype == intercept.dtype == torch.float32


def test_a_model_of_the_bank_is_a_random_relu_projection_of_its_own():
    x = torch.rand(40, 784, generator=torch.Generator().manual_seed(2))
    mean, weight, bias = feature_bank(x, 64, seed=3)
    assert weight.shape == (784, 64) and bias.shape == (64,)
    assert weight.std().item() == pytest.approx(784 ** -0.5, rel=0.05)  # W ~ N(0, 1/d)
    cols = torch.tensor([3, 17, 40])
    own = torch.relu((x - mean) @ weight[:, cols] + bias[cols])
    torch.testing.assert_close(relu_features(x, mean, weight, bias)[:, cols], own)
    again = feature_bank(x, 64, seed=3)
    assert all(torch.equal(a, b) for a, b in zip((mean, weight, bias), again))


def test_each_model_draws_its_own_features_and_lambda():
    cfg = ModelSelectionConfig(min_features=16, max_features=256, bank=1024, min_lambda=1e-3, max_lambda=1.0)
    draws = [draw_model(cfg, i) for i in range(2000)]
    ks = np.array([len(cols) for cols, _ in draws])
    lams = np.array([lam for _, lam in draws])
    assert ks.min() >= 16 and ks.max() <= 256 and lams.min() >= 1e-3 and lams.max() <= 1.0
    assert all(len(np.unique(cols)) == len(cols) and cols.max() < 1024 for cols, _ in draws)
    # log-uniform: half the draws below the geometric midpoint
    assert abs(np.mean(ks < 64) - 0.5) < 0.05 and abs(np.mean(lams < 10 ** -1.5) - 0.5) < 0.05
    cols, lam = draw_model(cfg, 7)
    other_cols, other_lam = draw_model(ModelSelectionConfig(**{**cfg.__dict__, "models": 10}), 7)
    assert np.array_equal(cols, other_cols) and lam == other_lam  # model i does not depend on the pool size


# ---- the exact selection table --------------------------------------------------------------

def test_selection_table_equals_every_subset_enumerated():
    val = np.array([0.70, 0.80, 0.80, 0.60, 0.90, 0.80, 0.75])  # ties: broken by the seeded ranking
    test = np.array([0.72, 0.74, 0.79, 0.61, 0.70, 0.77, 0.73])
    rank = np.empty(len(val), dtype=int)
    rank[validation_ranking(val, seed=5)] = np.arange(len(val))
    for row in selection_table(val, test, [1, 2, 3, 7], n_val=50, seed=5):
        subsets = list(itertools.combinations(range(len(val)), row["n"]))
        chosen = [max(s, key=lambda i: rank[i]) for s in subsets]
        assert row["val_acc"] == pytest.approx(np.mean(val[chosen]), rel=1e-12)
        assert row["test_acc"] == pytest.approx(np.mean(test[chosen]), rel=1e-12)
        assert row["best_test_acc"] == pytest.approx(np.mean([test[list(s)].max() for s in subsets]), rel=1e-12)
        for key, q in (("low", 0.1), ("high", 0.9)):
            assert row[f"test_acc_{key}"] == np.quantile(test[chosen], q, method="inverted_cdf")
            assert row[f"val_acc_{key}"] == np.quantile(val[chosen], q, method="inverted_cdf")
        assert row["expected_max_pool"] == expected_max_empirical(val, row["n"])
        assert row["expected_max_noise"] == expected_max_binomial(50, test.mean(), row["n"])


def test_a_pool_of_equal_models_is_chosen_by_luck_alone():
    """Every model has true accuracy p: the chosen validation score follows the pure-noise
    expected maximum, and the chosen model is no better on test than any other."""
    rng = np.random.default_rng(0)
    p, n_val = 0.75, 300
    val = rng.binomial(n_val, p, size=4000) / n_val
    test = np.full(4000, p)
    for row in selection_table(val, test, [1, 5, 20, 50], n_val=n_val, seed=0):
        assert abs(row["val_acc"] - row["expected_max_noise"]) < 0.004
        assert row["test_acc"] == pytest.approx(p)
    assert row["val_acc"] - p > 0.04  # at N = 50 luck alone flatters by ≈ 2.25 σ ≈ 0.056


# ---- data and settings ----------------------------------------------------------------------

def test_split_sizes_cap_to_the_images_there_are():
    assert split_sizes(60000, 2000, 300) == (2000, 300)
    assert split_sizes(60000, 0, 300) == (59700, 300)  # 0: all the rest
    assert split_sizes(512, 2000, 300) == (384, 128)  # the tests' fake data
    assert split_sizes(512, 400, 100) == (400, 100)
    with pytest.raises(UserError, match="too few"):
        split_sizes(30, 2000, 300)


@pytest.mark.parametrize("setting", [{"models": 0}, {"val_size": 5}, {"train_size": -1}, {"min_features": 0},
                                     {"min_features": 64, "max_features": 32}, {"max_features": 8192},
                                     {"min_lambda": 0}, {"min_lambda": 2.0, "max_lambda": 1.0},
                                     {"n_list": "1,0"}, {"n_list": "1,x"}, {"n_list": (5, 5)}])
def test_bad_settings_are_refused(setting, tmp_path):
    with pytest.raises(UserError):
        divelab.run("model-selection", out=tmp_path / "run", progress=False, **setting)


# ---- short runs -----------------------------------------------------------------------------

def _write_hard_fake(directory: Path, seed: int = 0) -> Path:
    """Like the shared fake Fashion-MNIST but noisy (the class's row band only half-bright),
    so accuracies fall between chance and 1 and the models differ."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 512), ("t10k", 256)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            band = images[i, 2 * label + 4:2 * label + 6, :]
            images[i, 2 * label + 4:2 * label + 6, :] = np.minimum(255, band // 2 + 110)
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", labels)
    return directory


def test_a_short_run_selects_the_best_validation_score(tmp_path):
    data = _write_hard_fake(tmp_path / "hard")
    result = divelab.run("model-selection", data_dir=str(data), models=60, n_list=(1, 5, 20, 100),
                         out=tmp_path / "run", progress=False, **SMALL)
    s = result.summary
    assert (s["models_compared"], s["train_size"], s["val_size"], s["test_size"]) == (60, 384, 128, 256)
    rows = s["by_n"]
    assert [r["n"] for r in rows] == [1, 5, 20, 60]  # 100 > models is dropped, models itself added
    assert 0.1 < rows[0]["test_acc"] < rows[-1]["test_acc"] < 1.0  # the task is learnable but not trivial
    assert s["val_acc"] == pytest.approx(rows[-1]["val_acc"], abs=1e-5)
    assert s["optimism"] == pytest.approx(s["val_acc"] - s["test_acc"])
    assert s["selection_optimism"] == pytest.approx(s["optimism"] - s["val_set_offset"])
    vals = [r["val_acc"] for r in rows]
    assert all(a <= b + 1e-12 for a, b in zip(vals, vals[1:]))  # E[best of N] grows with N
    assert all(r["test_acc"] <= r["best_test_acc"] + 1e-12 for r in rows)
    assert s["pool_best_test_acc"] >= s["test_acc"] and 1 <= s["chosen_test_rank"] <= 60
    assert {p.name for p in result.figures} == {"selection.png", "pool.png"}


def test_too_few_images_is_a_clear_error(tmp_path, monkeypatch):
    from tests.conftest import write_fake_fashion_mnist

    data = write_fake_fashion_mnist(tmp_path / "tiny", n_train=30, n_test=20)
    with pytest.raises(UserError, match="too few"):
        divelab.run("model-selection", data_dir=str(data), out=tmp_path / "run", progress=False, **SMALL)


@pytest.mark.slow
def test_on_the_real_data_the_chosen_validation_score_is_optimistic(tmp_path, monkeypatch):
    monkeypatch.delenv("DIVELAB_DATA", raising=False)
    s = divelab.run("model-selection", out=tmp_path / "run", progress=False).summary
    assert (s["models_compared"], s["val_size"], s["test_size"]) == (1000, 300, 10000)
    assert s["optimism"] > 0 and s["selection_optimism"] > 0.01
    assert 0.75 < s["test_acc"] <= s["pool_best_test_acc"]
    rows = s["by_n"]
    assert all(a["val_acc"] < b["val_acc"] for a, b in zip(rows, rows[1:]))
    gaps = [r["val_acc"] - r["test_acc"] for r in rows]
    assert gaps[-1] > gaps[0] + 0.01  # choosing among more models flatters the winner more
