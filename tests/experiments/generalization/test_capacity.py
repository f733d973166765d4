"""``capacity`` on small settings: the U-curve and the shrinking training set; the least-squares solver."""

from __future__ import annotations

import pytest
import torch

import divelab
from divelab.errors import UserError
from divelab.experiments.generalization.capacity import least_squares


def run(name, tmp_path, **settings):
    return divelab.run(name, out=tmp_path / name, progress=False, **settings)


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
