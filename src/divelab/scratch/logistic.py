"""Binary logistic regression from scratch: sigmoid, binary cross-entropy, fitted by Newton's method.

The model is ``P(y = 1 | x) = σ(z)``, ``z = x·w + b``; it is fitted by minimising the mean
binary cross-entropy plus an L2 penalty on ``w`` (not on ``b``):

    L(w, b) = 1/n Σ_i [softplus(z_i) − y_i z_i] + λ/2 ‖w‖²,   softplus(z) = log(1 + eᶻ)

whose gradient and Hessian are, with ``s_i = σ(z_i)`` and ``X̃ = [X 1]``,

    ∇L = X̃ᵀ (s − y) / n + λ [w; 0],    H = X̃ᵀ diag(s ⊙ (1 − s)) X̃ / n + λ diag(1, …, 1, 0).

Newton's method (= iteratively reweighted least squares) steps ``θ ← θ − t H⁻¹ ∇L`` with a
backtracking line search on ``L`` (``t`` halved until ``L`` falls enough), which makes every
step a descent step; near the optimum ``t = 1`` and convergence is quadratic, so a few dozen
iterations reach the optimum to machine precision. ``λ > 0`` keeps the problem well posed
(on separable data the unpenalised optimum lies at infinity).

This is the domain classifier of the covariate-shift experiment. Twins:
``nn.Linear(d, 1)`` + ``F.binary_cross_entropy_with_logits`` (loss and gradients, same weights),
and ``sklearn.linear_model.LogisticRegression(C=1/(λ n))`` (the fitted solution: scikit-learn
minimises ``½‖w‖² + C Σ_i loss_i``, which is ``n C`` times ``L`` when ``C = 1/(λ n)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from divelab.scratch.activations import sigmoid


def bce_with_logits(z: Tensor, y: Tensor) -> Tensor:
    """Mean binary cross-entropy of logits ``z`` against targets ``y ∈ [0, 1]``.

    ``ℓ(z, y) = −y log σ(z) − (1 − y) log(1 − σ(z)) = softplus(z) − y z``, with the softplus
    evaluated as ``max(z, 0) + log(1 + exp(−|z|))`` so no ``exp`` overflows.

    Twin: torch.nn.functional.binary_cross_entropy_with_logits
    """
    if z.shape != y.shape:
        raise ValueError(f"logits shape {tuple(z.shape)} differs from target shape {tuple(y.shape)}")
    # max(z, 0) and −|z| written with where, so that at z = 0 the gradient is that of the z ≤ 0
    # branch, 0 + σ(0) = ½, as it must be (clamp's gradient at its bound would add 1)
    softplus = torch.where(z > 0, z, 0.0) + torch.log1p(torch.exp(torch.where(z > 0, -z, z)))
    return (softplus - y * z).mean()


def logistic_loss(x: Tensor, y: Tensor, w: Tensor, b: Tensor, l2: float = 0.0) -> Tensor:
    """``L(w, b) = bce_with_logits(x w + b, y) + λ/2 ‖w‖²`` for ``x`` (n, d), ``w`` (d,), ``b`` ().

    Twin: F.binary_cross_entropy_with_logits(nn.Linear(d, 1)(x).squeeze(-1), y) + λ/2 ‖weight‖²
    """
    return bce_with_logits(x @ w + b, y) + l2 / 2 * (w * w).sum()


def logistic_gradient(x: Tensor, y: Tensor, w: Tensor, b: Tensor, l2: float = 0.0) -> tuple[Tensor, Tensor]:
    """The gradient of :func:`logistic_loss` by hand: ``(Xᵀ(s − y)/n + λ w, mean(s − y))``, ``s = σ(x w + b)``.

    Twin: autograd of the loss above
    """
    residual = sigmoid(x @ w + b) - y  # (n,)
    return x.T @ residual / len(y) + l2 * w, residual.mean()


def logistic_hessian(x: Tensor, w: Tensor, b: Tensor, l2: float = 0.0) -> Tensor:
    """``H = X̃ᵀ diag(s(1 − s)) X̃ / n + λ diag(1, …, 1, 0)`` over ``θ = [w; b]``, shape (d+1, d+1)."""
    s = sigmoid(x @ w + b)
    xt = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], dim=1)  # X̃: (n, d+1)
    hessian = xt.T @ (xt * (s * (1 - s))[:, None]) / len(x)
    penalty = torch.full((x.shape[1] + 1,), l2, dtype=x.dtype, device=x.device)
    penalty[-1] = 0.0
    return hessian + torch.diag(penalty)


@dataclass
class LogisticRegressionFit:
    """A fitted model: weights ``w`` (d,), bias ``b``, Newton iterations used, whether it converged."""

    w: Tensor
    b: Tensor
    iterations: int
    converged: bool

    def logit(self, x: Tensor) -> Tensor:
        """``z = x w + b``: the log-odds ``log P(y=1|x) / P(y=0|x)``."""
        return x.to(self.w.dtype) @ self.w + self.b

    def predict_proba(self, x: Tensor) -> Tensor:
        """``P(y = 1 | x) = σ(x w + b)``."""
        return sigmoid(self.logit(x))


def fit_logistic(x: Tensor, y: Tensor, *, l2: float = 1e-4, max_iter: int = 100,
                 tol: float = 1e-10) -> LogisticRegressionFit:
    """Fit ``P(y=1|x) = σ(x w + b)`` by Newton's method on :func:`logistic_loss` (module docstring).

    Works in float64 on the inputs' device. Stops when the largest gradient entry is below
    ``tol`` or after ``max_iter`` Newton steps (``converged`` says which).
    """
    if x.ndim != 2 or y.shape != (len(x),):
        raise ValueError(f"need x (n, d) and y (n,), got {tuple(x.shape)} and {tuple(y.shape)}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be ≥ 1, got {max_iter}")
    if not l2 > 0:
        raise ValueError(f"l2 must be > 0 (without it separable data have no finite solution), got {l2}")
    x, y = x.to(torch.float64), y.to(torch.float64)
    if ((y != 0) & (y != 1)).any() or y.min() == y.max():
        raise ValueError("y must hold 0s and 1s, and both of them")
    w = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    b = torch.zeros((), dtype=torch.float64, device=x.device)
    loss = logistic_loss(x, y, w, b, l2)
    for iteration in range(1, max_iter + 1):
        gw, gb = logistic_gradient(x, y, w, b, l2)
        grad = torch.cat([gw, gb[None]])
        if grad.abs().max() < tol:
            return LogisticRegressionFit(w, b, iteration - 1, True)
        step = torch.linalg.solve(logistic_hessian(x, w, b, l2), grad)  # H is positive definite: λ > 0
        moved = _line_search(x, y, w, b, l2, loss, grad, step)
        if moved is None:
            break  # no step lowers L any more: only rounding is left
        w, b, loss = moved
    gw, gb = logistic_gradient(x, y, w, b, l2)
    return LogisticRegressionFit(w, b, iteration, bool(torch.cat([gw, gb[None]]).abs().max() < tol))


def _line_search(x: Tensor, y: Tensor, w: Tensor, b: Tensor, l2: float, loss: Tensor, grad: Tensor,
                 step: Tensor) -> tuple[Tensor, Tensor, Tensor] | None:
    """Backtracking (Armijo): the largest ``t ∈ {1, ½, ¼, …}`` with ``L(θ − t Δ) ≤ L(θ) − ¼ t ∇Lᵀ Δ``
    (up to rounding in ``L``); the new ``(w, b, L)``, or None when no ``t`` down to 2⁻³⁹ does."""
    decrease = float(grad @ step)  # > 0: Δ = H⁻¹∇L is a descent direction
    # near the optimum the decrease falls below L's rounding: a Newton step must not be refused then
    slack = 8 * torch.finfo(torch.float64).eps * abs(float(loss))
    t = 1.0
    for _ in range(40):
        w_new, b_new = w - t * step[:-1], b - t * step[-1]
        new_loss = logistic_loss(x, y, w_new, b_new, l2)
        if new_loss <= loss - 0.25 * t * decrease + slack:
            return w_new, b_new, new_loss
        t /= 2
    return None
