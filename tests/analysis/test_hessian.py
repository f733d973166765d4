"""Hessians, HVPs, Lanczos and the critical-point tests, on functions whose Hessian is known.

Tolerances (float64): exact-Hessian identities 1e-12; central finite differences 1e-7 (step
1e-5: truncation ~h², rounding ~ε/h); Lanczos with ``steps = dim`` 1e-9, fewer steps as stated
per test (the extreme Ritz values converge first, error measured well below the bound used).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.analysis.hessian import (
    DEGENERATE,
    LOCAL_MAXIMUM,
    LOCAL_MINIMUM,
    SADDLE_POINT,
    classify,
    default_tol,
    find_critical_point,
    flat_parameters,
    gradient,
    hessian,
    hessian_lanczos,
    hvp,
    lanczos,
    loss_along,
    loss_function,
    minimum_ratio,
    saddle_escape,
    spectrum,
    unflatten,
)

D = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _symmetric(n: int, seed: int = 0) -> Tensor:
    """A random symmetric matrix with eigenvalues of both signs (GOE-like)."""
    a = torch.randn(n, n, generator=_gen(seed), dtype=D)
    return (a + a.T) / 2


def _with_spectrum(values: Tensor, seed: int = 0) -> Tensor:
    """``Q diag(values) Qᵀ`` with a random orthogonal Q."""
    q, _ = torch.linalg.qr(torch.randn(len(values), len(values), generator=_gen(seed), dtype=D))
    return q @ torch.diag(values) @ q.T


def _tiny_network(seed: int = 0) -> tuple[nn.Module, Tensor, Tensor]:
    """2 → 4 (tanh) → 1, 17 parameters, on 20 random points."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)).to(D)
    g = _gen(seed)
    x = torch.randn(20, 2, generator=g, dtype=D)
    y = torch.sin(x[:, :1] * 2) + 0.1 * torch.randn(20, 1, generator=g, dtype=D)
    return model, x, y


# ---- quadratics: H = A exactly ---------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_quadratic_gradient_hessian_and_hvp(seed):
    """f = ½xᵀAx + bᵀx: ∇f = Ax + b, ∇²f = A, Hv = Av (A random symmetric, indefinite)."""
    A = _symmetric(7, seed)
    g = _gen(seed + 10)
    b, x, v = (torch.randn(7, generator=g, dtype=D) for _ in range(3))
    assert torch.linalg.eigvalsh(A).min() < 0 < torch.linalg.eigvalsh(A).max()

    def f(t: Tensor) -> Tensor:
        return 0.5 * t @ A @ t + b @ t

    torch.testing.assert_close(gradient(f, x), A @ x + b, atol=1e-12, rtol=0)
    torch.testing.assert_close(hessian(f, x), A, atol=1e-12, rtol=0)
    for mode in ("forward-over-reverse", "double-backward"):
        torch.testing.assert_close(hvp(f, x, v, mode=mode), A @ v, atol=1e-12, rtol=0)


def test_x2_minus_y2_is_a_saddle_and_the_escape_goes_down():
    """f = x² − y² at the origin: eigenvalues ±2, a saddle, minimum ratio ½; the step along
    the −2 eigenvector e_y lowers f by exactly η² (f is its own second-order model)."""
    def f(t: Tensor) -> Tensor:
        return t[0] ** 2 - t[1] ** 2

    origin = torch.zeros(2, dtype=D)
    assert gradient(f, origin).abs().max() == 0
    eigenvalues, vectors = spectrum(hessian(f, origin))
    torch.testing.assert_close(eigenvalues, torch.tensor([-2.0, 2.0], dtype=D))
    assert classify(eigenvalues) == SADDLE_POINT
    assert minimum_ratio(eigenvalues) == 0.5
    escape = saddle_escape(f, origin, step=0.3)
    assert escape.eigenvalue == pytest.approx(-2.0)
    assert abs(float(escape.direction[1])) == pytest.approx(1.0) and float(escape.direction[0]) == pytest.approx(0.0)
    assert escape.loss_after == pytest.approx(-0.09) == pytest.approx(escape.predicted)
    assert escape.loss_after < escape.loss_before == 0.0
    torch.testing.assert_close(escape.theta, origin + 0.3 * escape.direction)


class Toy(nn.Module):
    """The lecture's ``ŷ = w₁ w₂ x``."""

    def __init__(self) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.zeros((), dtype=D))
        self.w2 = nn.Parameter(torch.zeros((), dtype=D))

    def forward(self, x: Tensor) -> Tensor:
        return self.w1 * self.w2 * x


def test_the_lectures_toy_network_has_a_saddle_at_the_origin():
    """L = (1 − w₁w₂·1)² at w = 0: g = 0, H = [[0, −2], [−2, 0]], eigenvalues ±2 with
    eigenvectors (1, ±1)/√2; moving along (1, 1)/√2 makes w₁w₂ > 0 and lowers the loss."""
    model = Toy()
    f = loss_function(model, lambda out, y: ((y - out) ** 2).sum(), torch.ones(1, dtype=D), torch.ones(1, dtype=D))
    theta = flat_parameters(model)
    assert theta.tolist() == [0.0, 0.0] and float(f(theta)) == 1.0
    assert gradient(f, theta).abs().max() == 0
    H = hessian(f, theta)
    torch.testing.assert_close(H, torch.tensor([[0.0, -2.0], [-2.0, 0.0]], dtype=D))
    eigenvalues, vectors = spectrum(H)
    assert classify(eigenvalues) == SADDLE_POINT
    assert abs(float(vectors[0, 0] * vectors[1, 0])) == pytest.approx(0.5)  # u = ±(1, 1)/√2
    assert float(vectors[0, 0] * vectors[1, 0]) > 0
    escape = saddle_escape(f, theta, step=0.5)
    assert escape.loss_after < escape.loss_before
    # exact: L = (1 − η²/2)², second order: 1 − η²
    assert escape.loss_after == pytest.approx((1 - 0.125) ** 2) and escape.predicted == pytest.approx(0.75)


# ---- classification rules --------------------------------------------------------------------

@pytest.mark.parametrize("values, kind", [
    ([1.0, 2.0, 3.0], LOCAL_MINIMUM),
    ([-1.0, -0.5], LOCAL_MAXIMUM),
    ([-1.0, 0.0, 2.0], SADDLE_POINT),       # a zero eigenvalue does not hide mixed signs
    ([0.0, 2.0], DEGENERATE),                # x⁴ + y²: the second-order test cannot tell
    ([-3.0, 0.0], DEGENERATE),
    ([0.0, 0.0], DEGENERATE),
])
def test_classify(values, kind):
    assert classify(torch.tensor(values, dtype=D)) == kind


def test_the_tolerance_decides_what_counts_as_zero():
    values = torch.tensor([1e-20, 1.0], dtype=D)
    assert default_tol(values) == pytest.approx(2 * torch.finfo(D).eps)
    assert classify(values) == DEGENERATE            # 1e-20 is below the rounding level
    assert classify(values, tol=0.0) == LOCAL_MINIMUM
    assert classify(torch.tensor([-1e-3, 1.0], dtype=D), tol=1e-2) == DEGENERATE
    assert minimum_ratio(values) == 1.0 and minimum_ratio(values, tol=1e-10) == 0.5
    with pytest.raises(ValueError):
        classify(values, tol=-1.0)
    with pytest.raises(ValueError):
        classify(torch.tensor([], dtype=D))


def test_classify_agrees_with_eigenvalue_signs_on_random_matrices():
    for seed in range(20):
        eigenvalues = torch.linalg.eigvalsh(_symmetric(5, seed) + (seed % 3 - 1) * 4 * torch.eye(5, dtype=D))
        kind = classify(eigenvalues)
        if kind == LOCAL_MINIMUM:
            assert eigenvalues.min() > 0 and minimum_ratio(eigenvalues) == 1.0
        elif kind == LOCAL_MAXIMUM:
            assert eigenvalues.max() < 0 and minimum_ratio(eigenvalues) == 0.0
        else:
            assert kind == SADDLE_POINT and eigenvalues.min() < 0 < eigenvalues.max()
            assert 0 < minimum_ratio(eigenvalues) < 1


def test_no_escape_from_a_minimum():
    with pytest.raises(ValueError, match="negative curvature"):
        saddle_escape(lambda t: (t ** 2).sum(), torch.zeros(3, dtype=D), step=0.1)
    with pytest.raises(ValueError):
        saddle_escape(lambda t: t[0] ** 2 - t[1] ** 2, torch.zeros(2, dtype=D), step=0.0)


# ---- finding critical points -------------------------------------------------------------------

def _double_well(t: Tensor) -> Tensor:
    """x⁴/4 − x²/2 + y²: a saddle at (0, 0) (H = diag(−1, 2)), minima at (±1, 0) (H = diag(2, 2))."""
    return t[0] ** 4 / 4 - t[0] ** 2 / 2 + t[1] ** 2


def test_grad_norm_search_finds_the_saddle_and_descent_the_minimum():
    start = torch.tensor([0.3, 0.4], dtype=D)
    saddle = find_critical_point(_double_well, start, mode="grad-norm", tol=1e-12)
    assert saddle.converged and saddle.grad_norm <= 1e-12 and 0 < saddle.steps <= 50
    torch.testing.assert_close(saddle.theta, torch.zeros(2, dtype=D), atol=1e-12, rtol=0)
    assert classify(spectrum(hessian(_double_well, saddle.theta))[0]) == SADDLE_POINT
    minimum = find_critical_point(_double_well, start, mode="descent", tol=1e-12)
    assert minimum.converged
    torch.testing.assert_close(minimum.theta, torch.tensor([1.0, 0.0], dtype=D), atol=1e-12, rtol=0)
    assert classify(spectrum(hessian(_double_well, minimum.theta))[0]) == LOCAL_MINIMUM


def test_newton_solves_a_quadratic_in_one_step():
    """For ½xᵀAx + bᵀx (A invertible, indefinite) the critical point is −A⁻¹b."""
    A, b = _symmetric(6, 5), torch.randn(6, generator=_gen(6), dtype=D)
    f = lambda t: 0.5 * t @ A @ t + b @ t  # noqa: E731
    found = find_critical_point(f, torch.zeros(6, dtype=D), damping=1e-14, tol=1e-10)
    assert found.converged and found.steps == 1
    torch.testing.assert_close(found.theta, -torch.linalg.solve(A, b), atol=1e-10, rtol=0)


def test_search_gives_up_where_there_is_no_critical_point():
    found = find_critical_point(lambda t: t.sum() + 0 * (t ** 2).sum(), torch.zeros(3, dtype=D), max_steps=20)
    assert not found.converged and found.grad_norm == pytest.approx(math.sqrt(3))
    with pytest.raises(ValueError):
        find_critical_point(_double_well, torch.zeros(2, dtype=D), mode="upwards")  # type: ignore[arg-type]


# ---- a tiny network ----------------------------------------------------------------------------

def test_the_flat_vector_is_the_model():
    model, x, y = _tiny_network()
    theta = flat_parameters(model)
    assert theta.shape == (17,) and theta.dtype == D
    torch.testing.assert_close(theta, torch.nn.utils.parameters_to_vector(model.parameters()))
    f = loss_function(model, F.mse_loss, x, y)
    loss = F.mse_loss(model(x), y)
    assert float(f(theta).detach()) == pytest.approx(float(loss.detach()), rel=1e-14)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    torch.testing.assert_close(gradient(f, theta), torch.cat([g.reshape(-1) for g in grads]), atol=1e-14, rtol=0)
    parts = unflatten(model, theta)
    assert all(parts[n].shape == p.shape for n, p in model.named_parameters())
    with pytest.raises(ValueError):
        unflatten(model, theta[:-1])


@pytest.mark.twin
def test_tiny_network_hessian_matches_finite_differences_of_the_gradient():
    """Column i of H ≈ (∇f(θ + h eᵢ) − ∇f(θ − h eᵢ)) / 2h, h = 1e-5 (error ~h² ≈ 1e-10)."""
    model, x, y = _tiny_network()
    f = loss_function(model, F.mse_loss, x, y)
    theta = flat_parameters(model)
    H = hessian(f, theta)
    h = 1e-5
    eye = torch.eye(theta.numel(), dtype=D)
    columns = [(gradient(f, theta + h * e) - gradient(f, theta - h * e)) / (2 * h) for e in eye]
    torch.testing.assert_close(H, torch.stack(columns, dim=1), atol=1e-7, rtol=0)
    torch.testing.assert_close(H, H.T, atol=1e-13, rtol=0)


@pytest.mark.twin
def test_tiny_network_hessian_matches_torch_func_hessian():
    model, x, y = _tiny_network(4)
    f = loss_function(model, F.mse_loss, x, y)
    theta = flat_parameters(model)
    torch.testing.assert_close(hessian(f, theta), torch.func.hessian(f)(theta), atol=1e-12, rtol=0)
    with pytest.raises(ValueError):
        hessian(f, theta.view(1, -1))


@pytest.mark.twin
def test_tiny_network_hvp_matches_the_hessian_times_v():
    model, x, y = _tiny_network(1)
    f = loss_function(model, F.mse_loss, x, y)
    theta = flat_parameters(model)
    H = hessian(f, theta)
    g = _gen(3)
    for _ in range(3):
        v = torch.randn(theta.numel(), generator=g, dtype=D)
        for mode in ("forward-over-reverse", "double-backward"):
            torch.testing.assert_close(hvp(f, theta, v, mode=mode), H @ v, atol=1e-12, rtol=0)
    with pytest.raises(ValueError):
        hvp(f, theta, v, mode="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        hvp(f, theta, v[:3])


# ---- Lanczos ---------------------------------------------------------------------------------

@pytest.mark.twin
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lanczos_with_dim_steps_finds_every_eigenvalue(seed):
    A = _symmetric(40, seed)
    values, vectors = lanczos(lambda v: A @ v, 40, 40, generator=_gen(seed))
    torch.testing.assert_close(values, torch.linalg.eigvalsh(A), atol=1e-9, rtol=0)
    torch.testing.assert_close(A @ vectors, vectors * values, atol=1e-9, rtol=0)
    torch.testing.assert_close(vectors.T @ vectors, torch.eye(40, dtype=D), atol=1e-10, rtol=0)


@pytest.mark.twin
def test_lanczos_extremes_converge_first():
    """Spectrum in [−1, 1] plus outliers −3 and 5 (n = 200): 25 steps pin both ends to 1e-8,
    eigenvectors included, while the interior Ritz values are still far from converged."""
    values = torch.cat([torch.tensor([-3.0, 5.0], dtype=D), torch.linspace(-1, 1, 198, dtype=D)])
    A = _with_spectrum(values, seed=4)
    ritz, vectors = lanczos(lambda v: A @ v, 200, 25, generator=_gen(5))
    assert ritz.shape == (25,) and vectors.shape == (200, 25)
    assert float(ritz[0]) == pytest.approx(-3.0, abs=1e-8) and float(ritz[-1]) == pytest.approx(5.0, abs=1e-8)
    for k in (0, -1):
        residual = A @ vectors[:, k] - ritz[k] * vectors[:, k]
        assert float(residual.norm()) < 1e-6


@pytest.mark.parametrize("seed", range(5))
def test_ritz_values_interlace(seed):
    """Ritz values are Rayleigh quotients on a subspace: they lie inside [λ_min, λ_max]."""
    A = _symmetric(30, seed)
    exact = torch.linalg.eigvalsh(A)
    ritz, _ = lanczos(lambda v: A @ v, 30, 6, generator=_gen(seed))
    assert exact[0] - 1e-12 <= ritz[0] and ritz[-1] <= exact[-1] + 1e-12


def test_lanczos_survives_an_invariant_krylov_space():
    """diag(1, 1, 1, 2, 2, 3) from e₁: the Krylov space is span{e₁} after one step (β = 0);
    restarting with a fresh orthogonal vector still finds all six eigenvalues. The zero matrix too."""
    A = torch.diag(torch.tensor([1.0, 1, 1, 2, 2, 3], dtype=D))
    start = torch.zeros(6, dtype=D)
    start[0] = 1.0
    values, _ = lanczos(lambda v: A @ v, 6, 6, generator=_gen(), start=start)
    torch.testing.assert_close(values, torch.diag(A), atol=1e-12, rtol=0)
    zeros, _ = lanczos(lambda v: 0 * v, 4, 4, generator=_gen())
    assert zeros.abs().max() == 0


def test_lanczos_is_reproducible_and_checks_its_arguments():
    A = _symmetric(10)
    a, _ = lanczos(lambda v: A @ v, 10, 4, generator=_gen(7))
    b, _ = lanczos(lambda v: A @ v, 10, 4, generator=_gen(7))
    assert torch.equal(a, b)
    with pytest.raises(ValueError):
        lanczos(lambda v: A @ v, 10, 0)
    with pytest.raises(ValueError):
        lanczos(lambda v: A @ v, 10, 3, start=torch.zeros(10, dtype=D))


@pytest.mark.twin
def test_lanczos_on_the_tiny_network_hessian():
    """HVP-only Lanczos vs eigvalsh of the exact Hessian: all 17 eigenvalues with 17 steps (1e-9);
    both extremes within 1e-5 relative to max|λ| with 12 steps (measured ≤ 4e-7 on seeds 0–3; the
    isolated top eigenvalue converges far faster than the bottom one, which sits in a cluster)."""
    model, x, y = _tiny_network(2)
    f = loss_function(model, F.mse_loss, x, y)
    theta = flat_parameters(model)
    exact = torch.linalg.eigvalsh(hessian(f, theta))
    full, _ = hessian_lanczos(f, theta, 17, generator=_gen())
    torch.testing.assert_close(full, exact, atol=1e-9, rtol=0)
    part, _ = hessian_lanczos(f, theta, 12, generator=_gen())
    scale = float(exact.abs().max())
    assert abs(float(part[0] - exact[0])) < 1e-5 * scale and abs(float(part[-1] - exact[-1])) < 1e-5 * scale


def test_loss_along_a_line():
    f = lambda t: t[0] ** 2 - t[1] ** 2  # noqa: E731
    steps = torch.linspace(-1, 1, 5, dtype=D)
    values = loss_along(f, torch.zeros(2, dtype=D), torch.tensor([0.0, 1.0], dtype=D), steps)
    torch.testing.assert_close(values, -steps ** 2)
    assert math.isclose(float(values[2]), 0.0)
