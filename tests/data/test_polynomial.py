"""The polynomial-regression data: features x^i / i!, labels from the cubic, reproducible."""

import math

import pytest
import torch

from divelab.data.polynomial import CUBIC, polynomial_data, polynomial_features, true_weights


def test_shapes_and_dtype():
    x, features, y = polynomial_data(30, num_features=20, seed=0)
    assert x.shape == (30,) and features.shape == (30, 20) and y.shape == (30,)
    assert x.dtype == features.dtype == y.dtype == torch.float32


def test_features_are_powers_over_factorials():
    x = torch.tensor([-2.0, -0.5, 0.0, 1.0, 3.0], dtype=torch.float64)
    features = polynomial_features(x, 12)
    want = torch.tensor([[v ** i / math.factorial(i) for i in range(12)] for v in x.tolist()], dtype=torch.float64)
    torch.testing.assert_close(features, want, atol=0, rtol=1e-14)
    assert torch.equal(features[:, 0], torch.ones(5, dtype=torch.float64))


def test_labels_are_the_cubic_plus_noise_of_the_given_std():
    x, features, y = polynomial_data(20000, num_features=6, noise=0.1, seed=3)
    cubic = 5 + 1.2 * x - 3.4 * x ** 2 / 2 + 5.6 * x ** 3 / 6
    residual = y - cubic
    assert abs(residual.mean().item()) < 0.005
    assert residual.std().item() == pytest.approx(0.1, rel=0.03)
    _, _, exact = polynomial_data(50, num_features=4, noise=0.0, seed=3)
    x50 = polynomial_data(50, num_features=4, noise=0.0, seed=3)[0]
    torch.testing.assert_close(exact, 5 + 1.2 * x50 - 3.4 * x50 ** 2 / 2 + 5.6 * x50 ** 3 / 6, atol=1e-5, rtol=1e-5)


def test_x_is_standard_normal():
    x, _, _ = polynomial_data(20000, seed=1)
    assert abs(x.mean().item()) < 0.03 and x.std().item() == pytest.approx(1.0, rel=0.03)


def test_same_seed_same_data_other_seed_other_data():
    a, b = polynomial_data(10, seed=5), polynomial_data(10, seed=5)
    assert all(torch.equal(s, t) for s, t in zip(a, b))
    assert not torch.equal(a[0], polynomial_data(10, seed=6)[0])


def test_true_weights_pad_the_cubic_with_zeros():
    assert true_weights(6).tolist() == pytest.approx([*CUBIC, 0.0, 0.0])


@pytest.mark.parametrize("kwargs, match", [({"n": 0}, "n must"), ({"n": 5, "noise": -1.0}, "noise"),
                                           ({"n": 5, "num_features": 3}, "coefficients")])
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        polynomial_data(**kwargs)
