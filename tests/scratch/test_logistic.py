"""Twin tests of the scratch logistic regression: loss and gradients against nn.Linear +
F.binary_cross_entropy_with_logits, the fitted solution against scikit-learn."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from torch import nn

from divelab.scratch.logistic import (bce_with_logits, fit_logistic, logistic_gradient, logistic_hessian,
                                      logistic_loss)
from tests.twin import assert_twin

pytestmark = pytest.mark.twin


def _problem(n: int = 200, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ~ N(0, I) and labels drawn from a logistic model: well posed, not separable."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    w = torch.linspace(-2, 1.5, d, dtype=torch.float64)
    y = (torch.rand(n, generator=gen, dtype=torch.float64) < torch.sigmoid(x @ w + 0.3)).double()
    return x, y


@pytest.mark.parametrize("scale", [1.0, 30.0, 800.0])
def test_bce_with_logits_matches_torch(scale):
    gen = torch.Generator().manual_seed(1)
    z = scale * torch.randn(64, generator=gen, dtype=torch.float64)
    z[:3] = torch.tensor([0.0, scale, -scale], dtype=torch.float64)
    y = torch.rand(64, generator=gen, dtype=torch.float64)  # soft targets too
    y[:32] = y[:32].round()
    out = assert_twin(bce_with_logits, F.binary_cross_entropy_with_logits, z, y)
    assert torch.isfinite(out)


def test_bce_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="shape"):
        bce_with_logits(torch.zeros(3), torch.zeros(4))


@pytest.mark.parametrize("l2", [0.0, 0.1])
def test_logistic_loss_matches_torch(l2):
    """Values and gradients w.r.t. x, w and b, against nn.Linear's functional form."""
    x, y = _problem()

    def torch_loss(x, w, b):
        z = F.linear(x, w[None], b[None]).squeeze(-1)  # nn.Linear(d, 1) with weight w[None], bias b[None]
        return F.binary_cross_entropy_with_logits(z, y) + l2 / 2 * (w ** 2).sum()

    w = torch.randn(x.shape[1], dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    b = torch.tensor(-0.4, dtype=torch.float64)
    assert_twin(lambda x, w, b: logistic_loss(x, y, w, b, l2), torch_loss, x, w, b)


def test_module_twin_with_copied_weights():
    """The same weights in an nn.Linear: equal loss, and equal gradients in .grad."""
    x, y = _problem(seed=3)
    linear = nn.Linear(x.shape[1], 1, dtype=torch.float64)
    w = linear.weight.detach().clone().squeeze(0).requires_grad_(True)
    b = linear.bias.detach().clone().squeeze(0).requires_grad_(True)
    mine = logistic_loss(x, y, w, b, l2=0.05)
    theirs = F.binary_cross_entropy_with_logits(linear(x).squeeze(-1), y) + 0.025 * (linear.weight ** 2).sum()
    torch.testing.assert_close(mine, theirs, atol=1e-12, rtol=1e-12)
    mine.backward()
    theirs.backward()
    torch.testing.assert_close(w.grad, linear.weight.grad.squeeze(0), atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(b.grad, linear.bias.grad.squeeze(0), atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_hand_written_gradient_and_hessian_match_autograd(l2):
    x, y = _problem(n=50, d=4, seed=4)
    theta = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(5)).requires_grad_(True)

    def loss(theta):
        return F.binary_cross_entropy_with_logits(x @ theta[:-1] + theta[-1], y) + l2 / 2 * (theta[:-1] ** 2).sum()

    (want,) = torch.autograd.grad(loss(theta), theta)
    gw, gb = logistic_gradient(x, y, theta[:-1].detach(), theta[-1].detach(), l2)
    torch.testing.assert_close(torch.cat([gw, gb[None]]), want, atol=1e-12, rtol=1e-10)
    hessian = torch.autograd.functional.hessian(loss, theta.detach())
    torch.testing.assert_close(logistic_hessian(x, theta[:-1].detach(), theta[-1].detach(), l2), hessian,
                               atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("l2", [1e-3, 0.05, 1.0])
def test_fitted_solution_matches_sklearn(l2):
    """scikit-learn minimises ½‖w‖² + C Σ loss_i, our L times n·C when C = 1/(λ n); its
    newton-cholesky solver reaches the optimum to rounding, so the two agree to 1e-8."""
    x, y = _problem(seed=6)
    fit = fit_logistic(x, y, l2=l2)
    assert fit.converged and fit.iterations < 30
    reference = LogisticRegression(C=1 / (l2 * len(y)), solver="newton-cholesky", tol=1e-12, max_iter=1000)
    reference.fit(x.numpy(), y.numpy())
    torch.testing.assert_close(fit.w, torch.from_numpy(reference.coef_[0]), atol=1e-8, rtol=1e-8)
    assert fit.b.item() == pytest.approx(reference.intercept_[0], abs=1e-8)
    torch.testing.assert_close(fit.predict_proba(x), torch.from_numpy(reference.predict_proba(x.numpy())[:, 1]),
                               atol=1e-8, rtol=1e-8)


def test_fit_reaches_a_stationary_point_on_separable_data():
    x = torch.tensor([[-2.0], [-1.0], [1.0], [2.0]], dtype=torch.float64)
    y = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    fit = fit_logistic(x, y, l2=1e-3)  # separable: only the penalty keeps w finite
    gw, gb = logistic_gradient(x, y, fit.w, fit.b, 1e-3)
    assert fit.converged and gw.abs().max() < 1e-10 and gb.abs() < 1e-10
    assert fit.w.item() > 3  # a steep sigmoid between the classes


@pytest.mark.parametrize(("kwargs", "message"), [({"l2": 0.0}, "l2"), ({"max_iter": 0}, "max_iter")])
def test_bad_settings_are_refused(kwargs, message):
    x, y = _problem()
    with pytest.raises(ValueError, match=message):
        fit_logistic(x, y, **kwargs)


@pytest.mark.parametrize("y", [torch.zeros(4), torch.tensor([0.0, 1.0, 0.5, 1.0])])
def test_labels_must_be_both_zeros_and_ones(y):
    with pytest.raises(ValueError, match="0s and 1s"):
        fit_logistic(torch.randn(4, 2), y)
