"""The Hessian at a critical point: local minimum, local maximum or saddle point.

Where the gradient ``g = ∇L(θ₀)`` vanishes, the second-order Taylor expansion

    L(θ) ≈ L(θ₀) + gᵀ(θ − θ₀) + ½ (θ − θ₀)ᵀ H (θ − θ₀),    H = ∇²L(θ₀)

reduces to its quadratic term, so the signs of H's eigenvalues decide what θ₀ is: all
positive — a local minimum; all negative — a local maximum; both signs — a saddle point,
and an eigenvector ``u`` of a negative eigenvalue ``λ`` is a way out:
``L(θ₀ + η u) ≈ L(θ₀) + ½ λ η² < L(θ₀)``.

Everything works on one flat parameter vector θ (float64 recommended) on any device:

- :func:`flat_parameters`, :func:`loss_function` — a model, a loss and data as ``f(θ) -> scalar``
  (``torch.func.functional_call``);
- :func:`gradient`, :func:`hessian` — exact ∇f and ∇²f (``torch.func``), for small models;
- :func:`hvp` — ``H v`` without forming H, and :func:`lanczos` — extreme eigenpairs from HVPs
  alone, for models whose H would not fit in memory;
- :func:`spectrum`, :func:`classify`, :func:`minimum_ratio` — what the eigenvalues say;
- :func:`find_critical_point` — damped Newton steps to a point where ∇f = 0 (saddles included);
- :func:`saddle_escape` — one step along the most negative curvature.

One topic, the second-order view of a loss, kept in one module because its exact, Hessian-free
(Lanczos) and Newton tools work on the same flat parameter vector and are used together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call

Scalar = Callable[[Tensor], Tensor]
MatVec = Callable[[Tensor], Tensor]

LOCAL_MINIMUM = "local minimum"
LOCAL_MAXIMUM = "local maximum"
SADDLE_POINT = "saddle point"
DEGENERATE = "degenerate"
KINDS = (LOCAL_MINIMUM, LOCAL_MAXIMUM, SADDLE_POINT, DEGENERATE)


# ---- a model as a function of one flat vector ---------------------------------------------------

def flat_parameters(model: nn.Module) -> Tensor:
    """θ₀: every parameter of ``model``, flattened and concatenated in ``named_parameters`` order (a detached copy).

    Twin: ``torch.nn.utils.parameters_to_vector``.
    """
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def unflatten(model: nn.Module, theta: Tensor) -> dict[str, Tensor]:
    """``theta`` cut back into ``{name: tensor}`` shaped like ``model``'s parameters (views of ``theta``)."""
    shapes = [(name, p.shape, p.numel()) for name, p in model.named_parameters()]
    total = sum(n for _, _, n in shapes)
    if theta.dim() != 1 or theta.numel() != total:
        raise ValueError(f"theta must be a vector of the model's {total} parameters, got shape {tuple(theta.shape)}")
    out, start = {}, 0
    for name, shape, n in shapes:
        out[name] = theta[start:start + n].view(shape)
        start += n
    return out


def loss_function(model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], inputs: Tensor,
                  targets: Tensor) -> Scalar:
    """``f(θ) = loss_fn(model_θ(inputs), targets)``: the model's loss as a function of a flat θ.

    The model's own parameters are not touched (``torch.func.functional_call`` swaps θ in for
    one call); buffers are used as they are, so put the model in the mode you want first.
    The result composes with ``torch.func`` (grad, jvp, vmap, hessian).
    """
    buffers: Mapping[str, Tensor] = dict(model.named_buffers())

    def f(theta: Tensor) -> Tensor:
        return loss_fn(functional_call(model, ({**unflatten(model, theta), **buffers},), (inputs,)), targets)

    return f


# ---- derivatives -------------------------------------------------------------------------------

def gradient(f: Scalar, theta: Tensor) -> Tensor:
    """``∇f(θ)``. Twin: ``torch.autograd.grad``."""
    return torch.func.grad(f)(theta)


def hessian(f: Scalar, theta: Tensor) -> Tensor:
    """The exact Hessian ``H_ij = ∂²f / ∂θ_i ∂θ_j`` (n × n), reverse-over-reverse ``jacrev(jacrev(f))``:
    n vector-Jacobian products of the gradient, batched by vmap. Memory n², so small models only.

    Twin: ``torch.func.hessian`` (forward-over-reverse ``jacfwd(jacrev(f))``); equal up to rounding,
    but about twice as slow on CPU for the ~20–100-parameter networks used here.
    """
    if theta.dim() != 1:
        raise ValueError(f"theta must be a flat vector, got shape {tuple(theta.shape)}")
    return torch.func.jacrev(torch.func.jacrev(f))(theta)


def hvp(f: Scalar, theta: Tensor, v: Tensor,
        mode: Literal["forward-over-reverse", "double-backward"] = "forward-over-reverse") -> Tensor:
    """``H v`` without forming H, at the cost of about two gradients.

    - forward-over-reverse: the directional derivative of the gradient, ``d/dε ∇f(θ + ε v)`` at ε = 0
      (``torch.func.jvp`` of the reverse-mode gradient). The gradient is taken with ``jacrev``,
      not ``grad``: ``jvp(grad(f))`` fails with "ZeroTensors are immutable" when f uses
      ``F.mse_loss`` (pytorch/pytorch#123996, still in torch 2.13); jacrev materialises the tangent;
    - double-backward: ``∇_θ (∇f(θ) · v)``, differentiating the gradient's graph again
      (``torch.autograd.grad`` with ``create_graph=True``), for functions without forward-mode support.
    """
    if v.shape != theta.shape:
        raise ValueError(f"v must have theta's shape {tuple(theta.shape)}, got {tuple(v.shape)}")
    if mode == "forward-over-reverse":
        return torch.func.jvp(torch.func.jacrev(f), (theta,), (v,))[1]
    if mode == "double-backward":
        with torch.enable_grad():
            leaf = theta.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(f(leaf), leaf, create_graph=True)
            (hv,) = torch.autograd.grad(g, leaf, grad_outputs=v)
        return hv.detach()
    raise ValueError(f"mode must be 'forward-over-reverse' or 'double-backward', got {mode!r}")


# ---- eigenvalues from matrix-vector products: Lanczos ---------------------------------------

def _orthogonalise(w: Tensor, Q: Tensor) -> Tensor:
    """``w`` minus its projection onto the orthonormal columns of ``Q``, done twice
    ("twice is enough": one classical Gram–Schmidt pass loses orthogonality in rounding)."""
    for _ in range(2):
        w = w - Q @ (Q.T @ w)
    return w


def lanczos(matvec: MatVec, dim: int, steps: int, *, generator: torch.Generator | None = None,
            dtype: torch.dtype = torch.float64, device: torch.device | str | None = None,
            start: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Ritz values (ascending) and Ritz vectors (columns, ``dim × m``) of a symmetric operator
    known only through ``matvec(v) = A v``, from ``m = min(steps, dim)`` Lanczos steps.

    The Krylov basis ``Q = [q₁ … q_m]`` of ``span{q₁, A q₁, …}`` turns A into the tridiagonal
    ``T = Qᵀ A Q`` (diagonal αⱼ, off-diagonal βⱼ):

        w = A qⱼ − βⱼ₋₁ qⱼ₋₁,   αⱼ = qⱼ · w,   w ← w − αⱼ qⱼ,   βⱼ = ‖w‖,   qⱼ₊₁ = w / βⱼ,

    with w re-orthogonalised against every earlier q (full re-orthogonalisation: without it
    rounding makes copies of converged eigenvalues appear). The eigenpairs (θ, s) of T give
    Ritz pairs (θ, Q s); the extreme ones converge first, and with ``steps ≥ dim`` they are all
    of A's eigenpairs. By Cauchy interlacing ``λ_min(A) ≤ θ_min`` and ``θ_max ≤ λ_max(A)``.

    When βⱼ ≤ √ε·‖T‖ the Krylov space is (numerically) invariant: the next q is a fresh random
    vector orthogonal to the basis and βⱼ is set to 0, which moves Ritz values by at most βⱼ.
    ``start`` is q₁ (normalised), otherwise a standard normal draw from ``generator``.
    Twin: ``torch.linalg.eigh`` on the full matrix.
    """
    if dim < 1 or steps < 1:
        raise ValueError(f"dim and steps must be ≥ 1, got dim={dim}, steps={steps}")
    m = min(steps, dim)

    def random_vector() -> Tensor:
        return torch.randn(dim, generator=generator, dtype=dtype).to(device)

    q = random_vector() if start is None else start.detach().to(dtype=dtype, device=device).reshape(-1).clone()
    if q.numel() != dim or not q.norm() > 0:
        raise ValueError(f"start must be a non-zero vector of length {dim}")
    Q = torch.zeros(dim, m, dtype=dtype, device=device)
    alphas: list[Tensor] = []
    betas: list[Tensor] = []
    scale = torch.zeros((), dtype=dtype, device=device)  # running estimate of ‖T‖
    q = q / q.norm()
    for j in range(m):
        Q[:, j] = q
        w = matvec(q).to(dtype)
        alpha = q @ w
        w = _orthogonalise(w, Q[:, :j + 1])  # removes αⱼ qⱼ and βⱼ₋₁ qⱼ₋₁ along with rounding
        alphas.append(alpha)
        if j == m - 1:
            break
        beta = w.norm()
        scale = torch.maximum(scale, alpha.abs() + beta)
        if beta <= torch.finfo(dtype).eps ** 0.5 * scale:
            w = _orthogonalise(random_vector(), Q[:, :j + 1])
            beta = torch.zeros((), dtype=dtype, device=device)
        betas.append(beta)
        q = w / w.norm()
    T = torch.diag(torch.stack(alphas))
    if betas:
        off = torch.stack(betas)
        T = T + torch.diag(off, 1) + torch.diag(off, -1)
    ritz_values, S = torch.linalg.eigh(T)
    return ritz_values, Q @ S


def hessian_lanczos(f: Scalar, theta: Tensor, steps: int, *,
                    generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Ritz values and vectors of ``∇²f(θ)`` from ``steps`` Lanczos steps on :func:`hvp` (H never formed)."""
    return lanczos(lambda v: hvp(f, theta, v), theta.numel(), steps, generator=generator,
                   dtype=theta.dtype, device=theta.device)


# ---- what the eigenvalues say ----------------------------------------------------------------

def spectrum(H: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues (ascending) and unit eigenvectors (columns) of the symmetric part ``(H + Hᵀ)/2``
    (an autodiff Hessian is symmetric only up to rounding). Twin: ``torch.linalg.eigh``."""
    if H.dim() != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"H must be a square matrix, got shape {tuple(H.shape)}")
    return torch.linalg.eigh((H + H.T) / 2)


def default_tol(eigenvalues: Tensor) -> float:
    """``n · ε · max|λ|``: the rounding level of a symmetric eigensolver on an n × n matrix
    (the rule ``torch.linalg.matrix_rank`` uses by default); eigenvalues this small have no reliable sign."""
    if eigenvalues.numel() == 0:
        return 0.0
    eps = torch.finfo(eigenvalues.dtype).eps if eigenvalues.is_floating_point() else torch.finfo(torch.float64).eps
    return float(eigenvalues.numel() * eps * eigenvalues.abs().max())


def _signs(eigenvalues: Tensor, tol: float | None) -> tuple[int, int, int]:
    tol = default_tol(eigenvalues) if tol is None else tol
    if tol < 0:
        raise ValueError(f"tol must be ≥ 0, got {tol}")
    positive = int((eigenvalues > tol).sum())
    negative = int((eigenvalues < -tol).sum())
    return positive, negative, eigenvalues.numel() - positive - negative


def classify(eigenvalues: Tensor, tol: float | None = None) -> str:
    """What a critical point is, from its Hessian's eigenvalues.

    Sign rule: λ counts as positive if ``λ > tol``, negative if ``λ < −tol``, undecided otherwise
    (``tol=None``: :func:`default_tol`, the rounding level). Then

    - some positive and some negative → ``"saddle point"`` (undecided ones do not matter: a
      direction of strictly negative curvature already rules out a minimum, and vice versa);
    - all positive → ``"local minimum"``; all negative → ``"local maximum"``;
    - otherwise (some undecided, the rest of one sign) → ``"degenerate"``: the second-order
      test cannot tell, higher derivatives would.
    """
    if eigenvalues.dim() != 1 or eigenvalues.numel() == 0:
        raise ValueError(f"eigenvalues must be a non-empty vector, got shape {tuple(eigenvalues.shape)}")
    positive, negative, undecided = _signs(eigenvalues, tol)
    if positive and negative:
        return SADDLE_POINT
    if undecided:
        return DEGENERATE
    return LOCAL_MINIMUM if positive else LOCAL_MAXIMUM


def minimum_ratio(eigenvalues: Tensor, tol: float = 0.0) -> float:
    """``#{λ > tol} / #λ``: the lecture's "minimum ratio", 1 at a strict local minimum, lower the
    more directions still lead downhill."""
    if eigenvalues.dim() != 1 or eigenvalues.numel() == 0:
        raise ValueError(f"eigenvalues must be a non-empty vector, got shape {tuple(eigenvalues.shape)}")
    return int((eigenvalues > tol).sum()) / eigenvalues.numel()


# ---- finding a critical point ---------------------------------------------------------------

@dataclass
class CriticalPointSearch:
    """Where :func:`find_critical_point` stopped."""

    theta: Tensor
    grad_norm: float    # ‖∇f(θ)‖ there
    steps: int          # accepted Newton steps
    converged: bool     # grad_norm ≤ tol


def find_critical_point(f: Scalar, theta: Tensor, *, mode: Literal["grad-norm", "descent"] = "grad-norm",
                        max_steps: int = 50, tol: float = 1e-9, damping: float = 1e-3) -> CriticalPointSearch:
    """Damped Newton steps from θ until ``‖∇f(θ)‖ ≤ tol``, using the exact Hessian ``H = Σ λᵢ uᵢ uᵢᵀ``.

    - ``"grad-norm"``: Levenberg–Marquardt on ``½‖∇f(θ)‖²`` (Gauss–Newton for the equation
      ∇f = 0, whose Jacobian is H): ``δ = −(H² + μI)⁻¹ H g = −Σ λᵢ/(λᵢ² + μ) (uᵢ·g) uᵢ``, accepted if
      it lowers ‖∇f‖. As μ → 0 this is Newton's step ``−H⁻¹g``, drawn to the nearest critical point
      of any kind — saddles included, which is what the lecture's experiment wants.
    - ``"descent"``: damped saddle-free Newton (Dauphin et al., 2014) on f itself:
      ``δ = −Σ (uᵢ·g)/(|λᵢ| + μ) uᵢ``, accepted if it lowers f (or leaves f unchanged in
      rounding and lowers ‖∇f‖); it heads for minima.

    A rejected step multiplies μ by 4, an accepted one divides it by 5; the search gives up
    (``converged=False``) after ``max_steps`` accepted steps or once μ > 1e12 (no step helps).
    The eigen-decomposition keeps tiny |λ| from being squared into rounding, as H² would.
    """
    if mode not in ("grad-norm", "descent"):
        raise ValueError(f"mode must be 'grad-norm' or 'descent', got {mode!r}")
    if max_steps < 0 or not tol >= 0 or not damping > 0:
        raise ValueError("need max_steps ≥ 0, tol ≥ 0 and damping > 0")
    theta = theta.detach()
    g, value, mu, steps = gradient(f, theta), f(theta).detach(), damping, 0
    while g.norm() > tol and steps < max_steps and mu <= 1e12:
        lam, U = spectrum(hessian(f, theta))
        c = U.T @ g                                         # the gradient in H's eigenbasis
        scale = lam / (lam ** 2 + mu) if mode == "grad-norm" else 1 / (lam.abs() + mu)
        trial = theta - U @ (scale * c)
        g_trial, v_trial = gradient(f, trial), f(trial).detach()
        better = g_trial.norm() < g.norm()
        if mode == "descent":  # lower f; a tie within rounding (near the end) is broken by ‖∇f‖
            better = bool(v_trial < value or (v_trial <= value and better))
        if better:
            theta, g, value, steps, mu = trial, g_trial, v_trial, steps + 1, max(mu / 5, 1e-15)
        else:
            mu *= 4
    return CriticalPointSearch(theta, float(g.norm()), steps, bool(g.norm() <= tol))


# ---- escaping a saddle -----------------------------------------------------------------------

@dataclass
class SaddleEscape:
    """One step ``θ' = θ + η u`` along the unit eigenvector u of the most negative eigenvalue λ."""

    theta: Tensor            # θ', where the step lands
    direction: Tensor        # u, signed as taken
    eigenvalue: float        # λ < 0
    step: float              # η
    loss_before: float       # L(θ)
    loss_after: float        # L(θ')
    predicted: float         # L(θ) + gᵀ(η u) + ½ λ η², the second-order model


def saddle_escape(f: Scalar, theta: Tensor, step: float, H: Tensor | None = None) -> SaddleEscape:
    """Step from θ along the eigenvector of H's most negative eigenvalue λ (H: exact Hessian if not given).

    To second order ``L(θ + η u) ≈ L(θ) + η gᵀu + ½ λ η²``, below L(θ) for either sign of u when
    g = 0; of ±u the one with the lower actual loss is taken (the cubic term decides).
    Raises ``ValueError`` if H has no negative eigenvalue: then θ is no saddle to escape from.
    """
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step}")
    eigenvalues, vectors = spectrum(hessian(f, theta) if H is None else H)
    lam = float(eigenvalues[0])
    if not lam < -default_tol(eigenvalues):
        raise ValueError(f"the smallest Hessian eigenvalue is {lam:.3g} ≥ 0: no direction of negative curvature")
    before = float(f(theta))
    g = gradient(f, theta)
    candidates = []
    for sign in (1.0, -1.0):
        u = sign * vectors[:, 0]
        moved = theta + step * u
        candidates.append((float(f(moved)), moved, u))
    after, moved, u = min(candidates, key=lambda c: c[0])
    predicted = before + step * float(g @ u) + 0.5 * lam * step ** 2
    return SaddleEscape(moved.detach(), u, lam, step, before, after, predicted)


def loss_along(f: Scalar, theta: Tensor, direction: Tensor, steps: Tensor) -> Tensor:
    """``L(θ + t u)`` for each t in ``steps``: the loss on a line through θ."""
    return torch.stack([f(theta + t * direction) for t in steps]).detach()


__all__ = [
    "DEGENERATE", "KINDS", "LOCAL_MAXIMUM", "LOCAL_MINIMUM", "SADDLE_POINT", "CriticalPointSearch", "SaddleEscape",
    "classify", "default_tol", "find_critical_point", "flat_parameters", "gradient", "hessian", "hessian_lanczos",
    "hvp", "lanczos", "loss_along", "loss_function", "minimum_ratio", "saddle_escape", "spectrum", "unflatten",
]
