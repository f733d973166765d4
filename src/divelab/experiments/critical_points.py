"""Chapter 4 — optimisation: where gradient descent gets stuck, and what the Hessian says there.

``critical-points`` (Hung-yi Lee's lecture "local minimum vs saddle point"): a small tanh
network is trained several times (different seeds, different lengths of training), and from
each end point a damped Newton search drives the gradient to ~0. At the critical point found,
the exact Hessian's eigenvalues decide what it is — local minimum, local maximum or saddle
point — and the "minimum ratio" (share of positive eigenvalues) is plotted against the
training loss, as in the lecture. At the exact saddle where the network is switched off
(every weight 0), one step along the eigenvector of the most negative eigenvalue lowers the
loss, while gradient-based training started at the saddle itself never moves. Finally the
extreme eigenvalues of one run are estimated by Lanczos from Hessian-vector products alone
and compared with the exact ones.

This is one experiment, kept in one module of about 400 lines because its runs, its saddle
escape and its three figures all read the same config and the same set of runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from divelab.analysis import hessian as hs
from divelab.config import RunConfig, setting
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.report.figures import new_figure

D = torch.float64
NOT_CONVERGED = "not converged"
MARKERS = {hs.LOCAL_MINIMUM: ("o", "C2"), hs.SADDLE_POINT: ("^", "C1"), hs.LOCAL_MAXIMUM: ("v", "C3"),
           hs.DEGENERATE: ("s", "C4"), NOT_CONVERGED: ("x", "0.5")}


@dataclass
class CriticalPointsConfig(RunConfig):
    """A ``inputs → hidden (tanh) → 1`` student (61 parameters by default) fitting ``samples`` points
    labelled by a random, larger ``teacher_hidden``-unit tanh network plus N(0, noise²) noise, float64
    (the student cannot represent the teacher exactly, as a real network cannot its data).

    The objective is ``L(θ) = ½·mean (f_θ(x) − y)² + (weight_decay/2)·‖θ‖²``: the decay makes L
    grow far out, so every descent ends at a finite critical point (without it, saturating tanh
    units let the loss creep down flat valleys towards infinite weights and no critical point is
    ever reached). Full batch, so one Adam step is one epoch: run i of ``runs`` takes
    ``round(epochs^(i/(runs−1)))`` Adam steps (run 0 none) at ``lr`` — end points spread from
    the initialisation to a trained network — then up to ``search_steps`` Levenberg–Marquardt
    steps on ½‖∇L‖² (and, if that stalls, as many saddle-free Newton steps on L) until
    ``‖∇L‖ ≤ grad_tol``. Eigenvalues with ``|λ| ≤ eig_tol`` count as zero (the Hessian is taken
    a distance ~grad_tol/|λ| from the exact critical point). The escape steps ``escape_step``
    along u from the switched-off saddle, then takes ``escape_train_steps`` gradient-descent steps
    at ``escape_lr`` from there and from the saddle itself; Lanczos takes ``lanczos_steps`` HVPs on the last run.
    ``batch_size`` is unused. Runs on one CPU thread (see ``_one_cpu_thread``); default about 20 s.
    """

    min_epochs: ClassVar[int] = 0  # epochs = 0: the networks at their initial weights

    epochs: int = 2000
    lr: float = 0.02
    runs: int = setting(16, ge=1)
    inputs: int = setting(4, ge=1)
    hidden: int = setting(10, ge=1)
    teacher_hidden: int = setting(24, ge=1)
    samples: int = setting(200, ge=1)
    noise: float = setting(0.2, ge=0)
    weight_decay: float = setting(0.01, ge=0)
    search_steps: int = setting(40, ge=0)
    grad_tol: float = setting(1e-9, ge=0)
    eig_tol: float = setting(1e-6, ge=0)
    escape_step: float = setting(0.5, gt=0)
    escape_train_steps: int = setting(300, ge=0)
    escape_lr: float = setting(0.3, gt=0)
    lanczos_steps: int = setting(30, ge=1)


# ---- data, network, objective ---------------------------------------------------------------

def _uniform_(t: Tensor, bound: float, gen: torch.Generator) -> Tensor:
    return t.copy_(torch.rand(t.shape, generator=gen, dtype=D).mul_(2 * bound).sub_(bound))


def _tanh_net(inputs: int, hidden: int, gen: torch.Generator, device: torch.device) -> nn.Sequential:
    """``Linear(inputs, hidden) → tanh → Linear(hidden, 1)`` in float64, weights and biases drawn
    from nn.Linear's default U(−1/√fan_in, 1/√fan_in), but from ``gen``."""
    net = nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, 1)).to(D)
    with torch.no_grad():
        for layer in (net[0], net[2]):
            for p in (layer.weight, layer.bias):
                _uniform_(p, 1 / math.sqrt(layer.in_features), gen)
    return net.to(device)


def _data(cfg: CriticalPointsConfig, gen: torch.Generator, device: torch.device) -> tuple[Tensor, Tensor]:
    """x ~ N(0, I) of shape (samples, inputs); y = teacher(x) + ε of shape (samples, 1)."""
    teacher = _tanh_net(cfg.inputs, cfg.teacher_hidden, gen, torch.device("cpu"))
    with torch.no_grad():
        teacher[2].weight.mul_(math.sqrt(cfg.teacher_hidden))  # output of order 1, not 1/√hidden
    x = torch.randn(cfg.samples, cfg.inputs, generator=gen, dtype=D)
    with torch.no_grad():
        y = teacher(x) + cfg.noise * torch.randn(cfg.samples, 1, generator=gen, dtype=D)
    return x.to(device), y.to(device)


def half_mse(out: Tensor, y: Tensor) -> Tensor:
    """``½·mean (out − y)²``: the course's squared loss (``0.5 * F.mse_loss``)."""
    return 0.5 * ((out - y) ** 2).mean()


def _objective(model: nn.Module, x: Tensor, y: Tensor, weight_decay: float) -> tuple[hs.Scalar, hs.Scalar]:
    """``(L, data loss)`` as functions of θ: ``L(θ) = ½·mean (f_θ(x) − y)² + (wd/2)‖θ‖²``."""
    data_loss = hs.loss_function(model, half_mse, x, y)

    def objective(theta: Tensor) -> Tensor:
        return data_loss(theta) + 0.5 * weight_decay * (theta * theta).sum()

    return objective, data_loss


def _adam(f: hs.Scalar, theta: Tensor, steps: int, lr: float) -> Tensor:
    """The end point of ``steps`` full-batch ``torch.optim.Adam`` steps on f from θ."""
    theta = theta.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([theta], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        f(theta).backward()
        optimizer.step()
    return theta.detach()


def _gradient_descent(f: hs.Scalar, theta: Tensor, steps: int, lr: float) -> list[float]:
    """``θ ← θ − lr·∇L(θ)`` for ``steps`` steps; the loss at each of the ``steps + 1`` points.

    Plain gradient descent, not Adam, shows the stall at a saddle: Adam divides by √v̂ + ε and so
    magnifies the rounding-level gradient (~1e-17) at an exact critical point by up to 1/ε."""
    losses = [float(f(theta))]
    for _ in range(steps):
        theta = theta - lr * hs.gradient(f, theta)
        losses.append(float(f(theta)))
    return losses


# ---- one run: train, search, classify --------------------------------------------------------

def _search(f: hs.Scalar, theta: Tensor, cfg: CriticalPointsConfig) -> tuple[hs.CriticalPointSearch, str]:
    """LM on ½‖∇L‖² (finds saddles too); where it stalls on a point with ∇L ≠ 0, saddle-free Newton on L."""
    found = hs.find_critical_point(f, theta, mode="grad-norm", max_steps=cfg.search_steps, tol=cfg.grad_tol)
    if found.converged:
        return found, "grad-norm"
    return hs.find_critical_point(f, found.theta, mode="descent", max_steps=cfg.search_steps,
                                  tol=cfg.grad_tol), "descent"


def _run(cfg: CriticalPointsConfig, index: int, seed: int, x: Tensor, y: Tensor,
         device: torch.device) -> tuple[dict[str, Any], Tensor, Tensor, hs.Scalar]:
    """One training run and its critical point: the table row, θ*, the eigenvalues, the objective."""
    model = _tanh_net(cfg.inputs, cfg.hidden, torch.Generator().manual_seed(seed), device)
    f, data_loss = _objective(model, x, y, cfg.weight_decay)
    adam_steps = 0 if index == 0 else round(cfg.epochs ** (index / max(cfg.runs - 1, 1)))
    trained = _adam(f, hs.flat_parameters(model), adam_steps, cfg.lr)
    found, method = _search(f, trained, cfg)
    eigenvalues, _ = hs.spectrum(hs.hessian(f, found.theta))
    kind = hs.classify(eigenvalues, cfg.eig_tol) if found.converged else NOT_CONVERGED
    row = {"run": index, "seed": seed, "adam_steps": adam_steps, "loss_after_adam": float(f(trained)),
           "loss": float(f(found.theta)), "data_loss": float(data_loss(found.theta)),
           "grad_norm": found.grad_norm, "converged": found.converged, "search": method,
           "search_steps": found.steps, "lambda_min": float(eigenvalues[0]), "lambda_max": float(eigenvalues[-1]),
           "negative": int((eigenvalues < -cfg.eig_tol).sum()), "positive": int((eigenvalues > cfg.eig_tol).sum()),
           "classification": kind, "minimum_ratio": hs.minimum_ratio(eigenvalues, cfg.eig_tol)}
    return row, found.theta, eigenvalues, f


# ---- the exact saddle and the escape ---------------------------------------------------------

def switched_off(model: nn.Module, y: Tensor, weight_decay: float) -> Tensor:
    """θ with every weight and hidden bias 0 and the output bias ``c = mean(y)/(1 + wd)``.

    An exact critical point: with input weights W = 0 and hidden biases 0 every hidden unit
    outputs tanh(0) = 0, and with output weights v = 0 no gradient reaches W or the hidden
    biases, so only ∂L/∂c = mean(c − y) + wd·c remains, 0 at that c. With ``x̃ = [x, 1]`` and
    ``a = mean((y − c)·x̃)``, each unit's block in (v_j, [W_j, b_j]) is ``[[wd, −aᵀ], [−a, wd·I]]``,
    so the spectrum is ``wd ± ‖a‖`` (once per hidden unit), ``1 + wd`` (for c) and wd: a saddle
    whenever ``‖a‖ > wd``, i.e. the inputs say something about y.
    """
    theta = torch.zeros_like(hs.flat_parameters(model))
    theta[-1] = y.mean() / (1 + weight_decay)  # the output bias is the last parameter
    return theta


def _escape(cfg: CriticalPointsConfig, x: Tensor, y: Tensor, device: torch.device) -> dict[str, Any]:
    model = _tanh_net(cfg.inputs, cfg.hidden, torch.Generator().manual_seed(cfg.seed), device)
    f, data_loss = _objective(model, x, y, cfg.weight_decay)
    saddle = switched_off(model, y, cfg.weight_decay)
    H = hs.hessian(f, saddle)
    eigenvalues, vectors = hs.spectrum(H)
    if not eigenvalues[0] < -cfg.eig_tol:
        raise UserError(f"with weight_decay {cfg.weight_decay} the switched-off network is no saddle (smallest "
                        f"Hessian eigenvalue {float(eigenvalues[0]):.3g}); lower weight_decay")
    escape = hs.saddle_escape(f, saddle, cfg.escape_step, H)
    stuck = _gradient_descent(f, saddle, cfg.escape_train_steps, cfg.escape_lr)
    escaped = _gradient_descent(f, escape.theta, cfg.escape_train_steps, cfg.escape_lr)
    return {"f": f, "saddle": saddle, "eigenvalues": eigenvalues, "top": vectors[:, -1], "escape": escape,
            "stuck": stuck, "escaped": escaped, "grad_norm": float(hs.gradient(f, saddle).norm()),
            "data_loss": float(data_loss(saddle))}


# ---- the experiment --------------------------------------------------------------------------

@contextmanager
def _one_cpu_thread() -> Iterator[None]:
    """Run with one intra-op CPU thread, then restore the setting. The tensors here are at most
    200 × 61, too small to split: extra threads only synchronise, and on a busy 2-core machine two
    threads made every Hessian ~15× slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def critical_points(cfg: CriticalPointsConfig, ctx: RunContext) -> dict[str, Any]:
    if ctx.device.type == "mps":
        raise UserError("critical-points works in float64, which the MPS backend lacks; use --device cpu")
    with _one_cpu_thread():
        return _critical_points(cfg, ctx)


def _critical_points(cfg: CriticalPointsConfig, ctx: RunContext) -> dict[str, Any]:
    device = ctx.device
    gen = torch.Generator().manual_seed(cfg.seed)
    x, y = _data(cfg, gen, device)
    seeds = torch.randint(0, 2**62, (cfg.runs,), generator=gen).tolist()
    rows, points = [], []
    for i, seed in enumerate(seeds):
        row, theta, eigenvalues, f = _run(cfg, i, seed, x, y, device)
        rows.append(row)
        points.append((theta, eigenvalues, f))

    last_theta, last_eigenvalues, last_f = points[-1]
    ritz, _ = hs.hessian_lanczos(last_f, last_theta, cfg.lanczos_steps, generator=gen)
    errors = abs(float(ritz[0] - last_eigenvalues[0])), abs(float(ritz[-1] - last_eigenvalues[-1]))
    escape = _escape(cfg, x, y, device)

    converged = [r for r in rows if r["converged"]]
    counts = {kind: sum(r["classification"] == kind for r in rows) for kind in (*hs.KINDS, NOT_CONVERGED)}
    ratios = [r["minimum_ratio"] for r in (converged or rows)]  # all runs only if none converged
    e: hs.SaddleEscape = escape["escape"]
    summary = {
        "parameters": int(last_theta.numel()), "runs": rows, "counts": counts, "converged_runs": len(converged),
        "mean_minimum_ratio": sum(ratios) / len(ratios), "max_minimum_ratio": max(ratios),
        "max_grad_norm": max(r["grad_norm"] for r in rows),
        "saddle_grad_norm": escape["grad_norm"],
        "saddle_classification": hs.classify(escape["eigenvalues"], cfg.eig_tol),
        "saddle_minimum_ratio": hs.minimum_ratio(escape["eigenvalues"], cfg.eig_tol),
        "saddle_lambda_min": e.eigenvalue, "escape_step": e.step,
        "saddle_loss_before": e.loss_before, "saddle_loss_after": e.loss_after, "saddle_loss_predicted": e.predicted,
        "loss_trained_from_saddle": escape["stuck"][-1], "loss_trained_after_escape": escape["escaped"][-1],
        "lanczos_steps": min(cfg.lanczos_steps, int(last_theta.numel())),
        "lanczos_min": float(ritz[0]), "lanczos_max": float(ritz[-1]),
        "exact_min": float(last_eigenvalues[0]), "exact_max": float(last_eigenvalues[-1]),
        "lanczos_min_error": errors[0], "lanczos_max_error": errors[1], "lanczos_error": max(errors),
    }
    _ratio_figure(ctx, rows, (escape["data_loss"], summary["saddle_minimum_ratio"]))
    _spectrum_figure(ctx, rows, points, ritz, escape["eigenvalues"])
    _escape_figure(ctx, cfg, escape)
    return summary


# ---- figures ---------------------------------------------------------------------------------

def _ratio_figure(ctx: RunContext, rows: list[dict[str, Any]], saddle: tuple[float, float]) -> None:
    """The lecture's scatter: minimum ratio against training loss, one point per run, and the switched-off saddle."""
    fig, axes = new_figure(size=(5.5, 4.0))
    ax = axes[0][0]
    for kind, (marker, color) in MARKERS.items():
        chosen = [r for r in rows if r["classification"] == kind]
        if chosen:
            ax.scatter([r["data_loss"] for r in chosen], [r["minimum_ratio"] for r in chosen], marker=marker,
                       color=color, label=f"{kind} ({len(chosen)})", zorder=3)
    ax.scatter([saddle[0]], [saddle[1]], marker="*", s=160, facecolors="none", edgecolors="k",
               label="switched-off saddle (exact)", zorder=4)
    ax.axhline(1.0, color="gray", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("training loss ½·MSE at the critical point")
    ax.set_ylabel("minimum ratio  #{λ > 0} / #λ")
    ax.set_title("critical points of a small tanh network")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "minimum-ratio")


def _spectrum_figure(ctx: RunContext, rows: list[dict[str, Any]], points: list[tuple[Tensor, Tensor, Any]],
                     ritz: Tensor, saddle_eigenvalues: Tensor) -> None:
    """Left: sorted Hessian eigenvalues (symlog scale) at the lowest-loss critical point, at the
    lowest-loss saddle found by training (if any) and at the switched-off saddle.
    Right: Lanczos Ritz values of the last run vs its exact spectrum."""
    fig, axes = new_figure(ncols=2, size=(5.0, 3.8))
    ax = axes[0][0]
    by_loss = sorted(range(len(rows)), key=lambda i: rows[i]["data_loss"])
    saddles = [i for i in by_loss if rows[i]["classification"] == hs.SADDLE_POINT]
    for i in dict.fromkeys([by_loss[0], *saddles[:1]]):
        ev = points[i][1].cpu()
        ax.plot(range(len(ev)), ev, marker=".", linewidth=0.8,
                label=f"run {i}: {rows[i]['classification']}, loss {rows[i]['data_loss']:.4f}, "
                      f"ratio {rows[i]['minimum_ratio']:.2f}")
    ax.plot(range(len(saddle_eigenvalues)), saddle_eigenvalues.cpu(), marker=".", linewidth=0.8, color="k",
            label="switched-off saddle (exact)")
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("eigenvalue index (ascending)")
    ax.set_ylabel("Hessian eigenvalue λ (symlog)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[0][1]
    exact = points[-1][1].cpu()
    ax.scatter([0] * len(exact), exact, marker="_", s=300, color="C0", label=f"exact ({len(exact)})")
    ax.scatter([1] * len(ritz), ritz.cpu(), marker="_", s=300, color="C3", label=f"Lanczos, {len(ritz)} HVP steps")
    for value in (exact[0], exact[-1]):
        ax.axhline(float(value), color="gray", linestyle=":", linewidth=0.8)
    ax.set_xticks([0, 1], ["exact (eigvalsh)", "Lanczos"])
    ax.set_xlim(-0.6, 1.6)
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set_ylim(min(0.0, 1.5 * float(exact[0])), max(0.0, 1.5 * float(exact[-1])))
    ax.set_title(f"run {len(points) - 1}: extremes converge first")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ctx.save_figure(fig, "spectrum")


def _escape_figure(ctx: RunContext, cfg: CriticalPointsConfig, escape: dict[str, Any]) -> None:
    """Left: L on lines through the saddle, along the escape direction u (λ < 0) and the top
    eigenvector (λ_max > 0), with the quadratic models. Right: gradient descent from the saddle and from θ + ηu."""
    e: hs.SaddleEscape = escape["escape"]
    f, saddle, lam_max = escape["f"], escape["saddle"], float(escape["eigenvalues"][-1])
    t = torch.linspace(-2.5 * e.step, 2.5 * e.step, 101, dtype=D)
    fig, axes = new_figure(ncols=2, size=(4.8, 3.8))
    ax = axes[0][0]
    along_u = hs.loss_along(f, saddle, e.direction, t.to(saddle.device)).cpu()
    along_top = hs.loss_along(f, saddle, escape["top"], t.to(saddle.device)).cpu()
    ax.plot(t, along_u, color="C3", label=f"along u (λ = {e.eigenvalue:.3f})")
    ax.plot(t, e.loss_before + 0.5 * e.eigenvalue * t ** 2, color="C3", linestyle=":", label="L + ½λt²")
    ax.plot(t, along_top, color="C0", label=f"along top eigenvector (λ = {lam_max:.3f})")
    ax.plot(t, e.loss_before + 0.5 * lam_max * t ** 2, color="C0", linestyle=":")
    ax.scatter([0.0, e.step], [e.loss_before, e.loss_after], color="k", zorder=3)
    ax.annotate(f"before {e.loss_before:.4f}", (0.0, e.loss_before), textcoords="offset points", xytext=(-30, 8),
                fontsize=7)
    ax.annotate(f"after {e.loss_after:.4f}", (e.step, e.loss_after), textcoords="offset points", xytext=(4, -12),
                fontsize=7)
    low, high = float(along_u.min()), float(along_u.max())
    ax.set_ylim(low - 0.1 * (high - low), high + 0.6 * (high - low))  # the steep top parabola runs off
    ax.set_xlabel("t  (θ = θ_saddle + t·direction)")
    ax.set_ylabel("loss L")
    ax.set_title("the switched-off network is a saddle")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[0][1]
    for key, label in (("stuck", "from the saddle (∇L = 0: stays)"), ("escaped", f"from θ + {e.step:g}·u")):
        ax.plot(range(len(escape[key])), escape[key], marker="." if len(escape[key]) < 3 else None, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("loss L")
    ax.set_title(f"gradient descent, lr {cfg.escape_lr:g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ctx.save_figure(fig, "escape")


EXPERIMENTS = [
    Experiment("critical-points", "optimization",
               "small network trained to a point where the gradient is ~0; Hessian eigenvalues classify it "
               "(local min, saddle, max); 'minimum ratio' over many runs; escaping a saddle along a "
               "negative-eigenvalue eigenvector lowers the loss",
               CriticalPointsConfig, critical_points,
               headline=("mean_minimum_ratio", "max_grad_norm", "saddle_loss_before", "saddle_loss_after",
                         "lanczos_error")),
]
