"""``capacity``: the U-curve — train and test loss of the least-squares polynomial of each
degree 0 … 10, and of one fixed degree as the training set shrinks. The default run took
1 s on a busy 2-core machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from divelab.config import RunConfig, setting, show
from divelab.data.polynomial import polynomial_data, polynomial_features
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.experiments.generalization.common import MAX_DEGREE, rounded
from divelab.report.figures import new_figure


@dataclass
class CapacityConfig(RunConfig):
    """Least-squares polynomial fits of the polyfit data; training settings are unused.

    Each model is fitted exactly (the least-squares minimiser, in float64) instead of by
    SGD: SGD barely moves the coefficients of the tiny high-power features, so within any
    affordable number of steps every degree above about 5 behaves alike (``polyfit`` shows
    this); the minimiser shows what capacity itself does. Curves are the median over
    ``repeats`` independent training sets (the band: their middle half), against one test
    set of ``num_test`` samples.
    """

    num_train: int = 20
    num_test: int = setting(1000, ge=1)
    noise: float = setting(0.1, ge=0)
    max_degree: int = 10
    repeats: int = setting(10, ge=1)
    size_degree: int = setting(6, ge=0, le=MAX_DEGREE)  # the fixed model of the training-set-size sweep
    sizes: tuple[int, ...] = setting((8, 10, 15, 20, 30, 50, 100, 200, 500, 1000), distinct=True)

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.max_degree < min(self.num_train, MAX_DEGREE + 1):
            raise UserError(f"max_degree must be at most num_train − 1 = {self.num_train - 1} (so that every fit is "
                            f"determined by the data) and at most {MAX_DEGREE}; got {self.max_degree}")
        if min(self.sizes) <= self.size_degree:
            raise UserError(f"every size must exceed size_degree = {self.size_degree} (a degree-d polynomial has "
                            f"d + 1 coefficients); got sizes {show(self.sizes)}")

    @property
    def size_list(self) -> list[int]:
        """The training-set sizes, smallest first."""
        return sorted(self.sizes)


def least_squares(features: Tensor, y: Tensor) -> Tensor:
    """``argmin_w ½ mean (Φ w − y)²``, solved in the columns-scaled-to-unit-norm basis
    (same minimiser, far better conditioned: the columns ``x^i / i!`` span many orders of
    magnitude) with an SVD-based solver."""
    scale = features.norm(dim=0).clamp_min(torch.finfo(features.dtype).tiny)
    solution = torch.linalg.lstsq(features / scale, y[:, None], driver="gelsd").solution  # (k, 1)
    return solution[:, 0] / scale


def _fit_losses(x: Tensor, y: Tensor, x_test: Tensor, y_test: Tensor, degree: int) -> tuple[float, float]:
    """Train and test loss of the least-squares polynomial of ``degree`` fitted to ``(x, y)``."""
    w = least_squares(polynomial_features(x, degree + 1), y)
    train = ((polynomial_features(x, degree + 1) @ w - y) ** 2 / 2).mean().item()
    test = ((polynomial_features(x_test, degree + 1) @ w - y_test) ** 2 / 2).mean().item()
    return train, test


def capacity(cfg: CapacityConfig, ctx: RunContext) -> dict[str, Any]:
    # the fits are tiny linear solves: done on the CPU in float64, whatever the device
    x_test, _, y_test = (t.double() for t in polynomial_data(cfg.num_test, noise=cfg.noise, seed=cfg.seed))
    degrees, sizes = list(range(cfg.max_degree + 1)), cfg.size_list
    by_degree = np.zeros((2, cfg.repeats, len(degrees)))  # [train/test, repeat, degree]
    by_size = np.zeros((2, cfg.repeats, len(sizes)))
    for r in range(cfg.repeats):
        # one pool per repeat; smaller training sets are its first samples, so they are nested
        x, _, y = (t.double() for t in polynomial_data(max(cfg.num_train, sizes[-1]), noise=cfg.noise,
                                                       seed=cfg.seed + 1 + r))
        for j, degree in enumerate(degrees):
            by_degree[:, r, j] = _fit_losses(x[:cfg.num_train], y[:cfg.num_train], x_test, y_test, degree)
        for j, size in enumerate(sizes):
            by_size[:, r, j] = _fit_losses(x[:size], y[:size], x_test, y_test, cfg.size_degree)
    degree_median, size_median = np.median(by_degree, axis=1), np.median(by_size, axis=1)
    best = int(np.argmin(degree_median[1]))
    _capacity_figure(ctx, degrees, by_degree, "polynomial degree (model capacity)",
                     f"U-curve: {cfg.num_train} training samples, median of {cfg.repeats} draws", "u-curve",
                     cfg.noise ** 2 / 2, mark=degrees[best])
    _capacity_figure(ctx, sizes, by_size, "training-set size",
                     f"degree {cfg.size_degree}: the fewer training samples, the wider the gap", "training-size",
                     cfg.noise ** 2 / 2, log_x=True)
    return {"num_train": cfg.num_train, "repeats": cfg.repeats, "noise_loss": cfg.noise ** 2 / 2,
            "best_degree": degrees[best], "best_test_loss": float(degree_median[1, best]),
            "degrees": degrees, "train_loss_by_degree": rounded(degree_median[0]),
            "test_loss_by_degree": rounded(degree_median[1]),
            "size_degree": cfg.size_degree, "sizes": sizes, "train_loss_by_size": rounded(size_median[0]),
            "test_loss_by_size": rounded(size_median[1])}


def _capacity_figure(ctx: RunContext, xs: list[int], losses: np.ndarray, xlabel: str, title: str, name: str,
                     noise_loss: float, mark: int | None = None, log_x: bool = False) -> None:
    """Median train and test loss over the repeats (lines) and their middle half (bands)."""
    fig, axes = new_figure(size=(6, 4.2))
    ax = axes[0][0]
    for i, label in enumerate(("train", "test")):
        low, median, high = np.percentile(losses[i], [25, 50, 75], axis=0)
        ax.plot(xs, median, marker="o", markersize=4, color=f"C{i}", label=f"{label} loss (median)")
        ax.fill_between(xs, low, high, color=f"C{i}", alpha=0.2)
    ax.axhline(noise_loss, color="k", linestyle=":", label="noise level σ²/2")
    if mark is not None:
        ax.axvline(mark, color="C2", linestyle="--", label=f"lowest test loss: {mark}")
    ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss ½(ŷ − y)²")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ctx.save_figure(fig, name)


EXPERIMENTS = [
    Experiment("capacity", "generalization",
               "train and test loss as polynomial degree grows and as the training set shrinks (the U-curve)",
               CapacityConfig, capacity, headline=("best_degree", "best_test_loss")),
]
