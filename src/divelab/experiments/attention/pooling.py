"""``attention-pooling``: Nadaraya–Watson kernel regression as attention (the course's first
attention model).

The prediction at a query ``x`` pools the training targets ``y_i`` with weights
``α(x, x_i) = softmax_i(−((x − x_i) w)² / 2)``. Average pooling (``α = 1/n``), the
non-parametric Gaussian kernel (``w = 1``) and the parametric one (``w`` learned by gradient
descent on leave-one-out predictions of the training set) are fitted to noisy samples of
``f(x) = 2 sin x + x^0.8`` and scored on a held-out grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from divelab.config import RunConfig, setting
from divelab.experiment import Experiment, RunContext
from divelab.experiments.attention.common import float64_device, heatmap
from divelab.report.figures import new_figure
from divelab.scratch.attention import masked_softmax


@dataclass
class AttentionPoolingConfig(RunConfig):
    """``n_train`` noisy samples ``y = f(x) + ε``, ``x ~ U(0, 5)``, ``ε ~ N(0, noise²)``; the
    held-out queries are the grid ``0, 0.1, …, 4.9``. ``epochs`` full-batch gradient steps
    with step size ``lr`` learn the kernel's ``w`` (the course: 5 steps of 0.5 on the summed
    squared error). ``batch_size`` is unused."""

    epochs: int = 5
    lr: float = 0.5
    n_train: int = setting(50, ge=3, note="leave-one-out needs two other points")
    noise: float = setting(0.5, ge=0)


def target_function(x: Tensor) -> Tensor:
    """The course's ``f(x) = 2 sin(x) + x^0.8``."""
    return 2 * torch.sin(x) + x ** 0.8


def nadaraya_watson(queries: Tensor, keys: Tensor, values: Tensor, w: Tensor | float = 1.0) -> tuple[Tensor, Tensor]:
    """Gaussian-kernel attention pooling: ``f̂(x) = Σ_i softmax_i(−((x − x_i) w)²/2) y_i``.

    ``queries`` ``(q,)``; ``keys`` and ``values`` ``(n,)`` shared by every query, or
    ``(q, n)`` one set per query (leave-one-out). Returns the predictions ``(q,)`` and the
    weights ``(q, n)``.
    """
    keys = keys.expand(queries.shape[0], -1) if keys.dim() == 1 else keys
    values = values.expand(queries.shape[0], -1) if values.dim() == 1 else values
    scores = -((queries[:, None] - keys) * w) ** 2 / 2                   # (q, n)
    weights = masked_softmax(scores)
    return (weights * values).sum(-1), weights


def leave_one_out(x: Tensor) -> Tensor:
    """``(n,)`` → ``(n, n − 1)``: row ``i`` holds every entry but ``x_i`` (the course's training keys)."""
    n = x.shape[0]
    return x.expand(n, n)[~torch.eye(n, dtype=torch.bool, device=x.device)].reshape(n, n - 1)


def train_kernel_width(x: Tensor, y: Tensor, w0: float, epochs: int, lr: float) -> tuple[Tensor, list[float]]:
    """Gradient descent ``w ← w − lr ∂L/∂w`` on ``L(w) = Σ_i (f̂_{−i}(x_i) − y_i)²`` (f̂ without point ``i``).

    Returns the learned ``w`` and ``L`` before each step and after the last.
    """
    w = torch.tensor(w0, dtype=x.dtype, device=x.device, requires_grad=True)
    keys, values = leave_one_out(x), leave_one_out(y)

    def loss() -> Tensor:
        return ((nadaraya_watson(x, keys, values, w)[0] - y) ** 2).sum()

    history = []
    for _ in range(epochs):
        value = loss()
        history.append(value.item())
        (grad,) = torch.autograd.grad(value, w)
        with torch.no_grad():
            w -= lr * grad
    history.append(loss().item())
    return w.detach(), history


def _pooling_figures(ctx: RunContext, data: dict[str, Tensor], fits: dict[str, Tensor],
                     weights: dict[str, Tensor]) -> None:
    fig, axes = new_figure(ncols=1, size=(6.0, 4.0))
    ax = axes[0][0]
    x_test = data["x_test"].cpu()
    ax.plot(x_test, data["y_truth"].cpu(), color="black", label="truth f(x)")
    ax.plot(data["x_train"].cpu(), data["y_train"].cpu(), "o", alpha=0.5, markersize=4, label="training samples")
    for name, pred in fits.items():
        ax.plot(x_test, pred.cpu(), label=name)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Nadaraya–Watson attention pooling")
    ctx.save_figure(fig, "pooling-fits")

    fig, axes = new_figure(ncols=len(weights), size=(4.2, 3.6))
    n = data["x_train"].shape[0]
    for ax, (name, w) in zip(axes[0], weights.items()):
        heatmap(fig, ax, w, name, xlabel="training points, sorted by x (keys)", ylabel="test input x (queries)",
                 extent=(-0.5, n - 0.5, 0.0, 5.0))
    ctx.save_figure(fig, "pooling-weights")


def attention_pooling(cfg: AttentionPoolingConfig, ctx: RunContext) -> dict[str, Any]:
    device = float64_device(ctx.device)
    g = torch.Generator().manual_seed(cfg.seed)
    x_train = torch.sort(torch.rand(cfg.n_train, generator=g, dtype=torch.float64) * 5).values
    y_train = target_function(x_train) + cfg.noise * torch.randn(cfg.n_train, generator=g, dtype=torch.float64)
    w0 = torch.rand(1, generator=g, dtype=torch.float64).item()           # the course: w ~ U(0, 1)
    x_test = torch.arange(0, 5, 0.1, dtype=torch.float64)
    data = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_truth": target_function(x_test)}
    data = {k: v.to(device) for k, v in data.items()}

    average = data["y_train"].mean().expand_as(data["x_test"])
    nonparametric, w_np = nadaraya_watson(data["x_test"], data["x_train"], data["y_train"])
    w, history = train_kernel_width(data["x_train"], data["y_train"], w0, cfg.epochs, cfg.lr)
    parametric, w_p = nadaraya_watson(data["x_test"], data["x_train"], data["y_train"], w)

    fits = {"average pooling": average, "non-parametric (w = 1)": nonparametric,
            f"parametric (w = {w.item():.2f})": parametric}
    _pooling_figures(ctx, data, fits, {"non-parametric weights": w_np, "parametric weights": w_p})

    def mse(pred: Tensor) -> float:
        return ((pred - data["y_truth"]) ** 2).mean().item()

    def entropy(weights: Tensor) -> float:
        return -(weights * weights.clamp_min(1e-300).log()).sum(-1).mean().item()

    return {
        "mse_average": mse(average), "mse_nonparametric": mse(nonparametric), "mse_parametric": mse(parametric),
        "initial_w": w0, "learned_w": w.item(), "train_loss_history": history,
        "train_loss_first": history[0], "train_loss_last": history[-1],
        # how spread out each query's weights are: log n for averages, lower for sharper kernels
        "weight_entropy_nonparametric": entropy(w_np), "weight_entropy_parametric": entropy(w_p),
        "weight_entropy_average": math.log(cfg.n_train),
        "n_train": cfg.n_train, "n_test": int(x_test.numel()), "noise_variance": cfg.noise ** 2,
    }


EXPERIMENTS = [
    Experiment("attention-pooling", "attention",
               "Nadaraya–Watson kernel regression as attention pooling: average, non-parametric and parametric "
               "Gaussian kernels; fits and attention-weight heatmaps", AttentionPoolingConfig, attention_pooling,
               headline=("mse_average", "mse_nonparametric", "mse_parametric", "learned_w")),
]
