"""The training guide — why deep: for a compositional function a deep network needs
exponentially fewer parameters than a shallow one.

The target is the sawtooth ``Tᵐ`` on [0, 1], the tent map ``T(x) = 2 min(x, 1 − x)``
composed ``m`` times: ``2ᵐ`` linear pieces (:mod:`divelab.models.sawtooth`).

**Built by hand** (exact, for m = 1 … ``largest_m``): a network of m hidden layers of 2 ReLU
units computes ``Tᵐ`` with ``6m + 1`` parameters, while one hidden layer needs at least
``2ᵐ − 1`` units (``n`` units bend the line at most ``n`` times), ``3·2ᵐ − 2`` parameters.
Both constructions are evaluated on a grid of 2¹⁷ points: the error against ``Tᵐ`` and the
number of linear pieces, counted exactly (:mod:`divelab.analysis.pieces`).

**Trained**: ReLU networks of each depth in ``depths`` and the widest width within
``budget`` parameters (so all have about the same number) are fitted to ``Tᵐ`` on
``points`` grid points by mean squared error, Adam with a cosine schedule, ``restarts``
times from different initial weights (sub-runs ``depth-D-restart-R``); the input is
centred, ``u = 2x − 1``. Reported per depth: the best restart's training loss, its test
loss (uniform random points), and the linear pieces it computes on the counting grid,
beside the ``2ᵐ`` the target has.

What it shows, and what it does not: the construction is the depth-separation argument
itself — the deep network's advantage is one of *representation*, checked exactly. Whether
gradient descent finds such a solution is another matter, the guide's *optimisation*
branch. At the default budget (100 parameters, m = 3: 8 pieces) which of the shallow
(33 units) and the 2-layer (width 8) network fits better depends on the seed — at seed 0
the 2-layer one reaches an MSE of 6·10⁻⁵ against the shallow one's 4·10⁻³, at seed 1 the
shallow one wins (4·10⁻³ against 0.03) — while the deep narrow networks (4 and 6 layers of
3–4 units) mostly end at the constant ½ (MSE 1/12 ≈ 0.083: dead units), which
``divelab diagnose`` names optimisation failures against the 3-layer network. Trained
networks compute far fewer pieces than their depth allows (Hanin & Rolnick, 2019).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.analysis.pieces import count_pieces, midpoint_grid
from divelab.config import OptimConfig, OptimizerName, ScheduleName, setting
from divelab.data import TensorLoader
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.models.sawtooth import (deep_sawtooth, parameter_count, relu_network, shallow_sawtooth, tent_power,
                                     width_for)
from divelab.report.figures import new_figure
from divelab.train.optim import build_optimizer, build_schedule

GRID_POINTS = 2 ** 17  # the counting grid: pieces of Tᵐ are 2^(17−m) points wide
TEST_POINTS = 1000


@dataclass
class DeepVsShallowConfig(OptimConfig):
    """Networks of each depth in ``depths`` within ``budget`` parameters, fitted to the sawtooth
    ``Tᵐ`` (``m`` = ``compositions``) on ``points`` grid points, ``restarts`` times each; the
    hand-built deep and shallow networks for m = 1 … ``largest_m``."""

    epochs: int = 250
    batch_size: int = 128
    lr: float = 0.01
    optimizer: OptimizerName = "adam"
    schedule: ScheduleName = "cosine"
    compositions: int = setting(3, ge=1, le=12, note="m of the sawtooth Tᵐ")
    budget: int = 100
    depths: tuple[int, ...] = setting((1, 2, 3, 4, 6), ge=1, distinct=True, note="hidden-layer counts")
    restarts: int = setting(3, ge=1)
    points: int = setting(2048, ge=2)
    largest_m: int = setting(10, ge=1, le=12, note="2¹⁷ grid points count 2^m pieces")

    def validate(self) -> None:
        super().validate()
        for depth in self.depths:
            try:
                width_for(depth, self.budget)
            except ValueError as exc:
                raise UserError(f"budget: {exc}; raise --set budget=… or drop that depth") from None

    @property
    def depth_list(self) -> list[int]:
        """The depths, shallowest first."""
        return sorted(self.depths)


def constructions(largest_m: int) -> list[dict[str, Any]]:
    """The hand-built deep and shallow networks for m = 1 … ``largest_m``, checked on the counting grid."""
    grid = midpoint_grid(GRID_POINTS)
    rows = []
    for m in range(1, largest_m + 1):
        target = tent_power(grid, m)
        row: dict[str, Any] = {"m": m, "target_pieces": 2 ** m, "shallow_parameters_bound": 3 * 2 ** m - 2}
        for kind, net in (("deep", deep_sawtooth(m)), ("shallow", shallow_sawtooth(m))):
            net = net.double()
            with torch.no_grad():
                error = (net(grid[:, None])[:, 0] - target).abs().max().item()
            row[f"{kind}_parameters"] = sum(p.numel() for p in net.parameters())
            row[f"{kind}_pieces"] = count_pieces(net, grid).pieces
            row[f"{kind}_max_error"] = error
        rows.append(row)
    return rows


def _fit(cfg: DeepVsShallowConfig, ctx: RunContext, name: str, net: nn.Module, train: TensorLoader,
         test: TensorLoader) -> list[dict[str, Any]]:
    """Train one network quietly (a line when it ends), return its history."""
    optimizer = build_optimizer(cfg, net.parameters())
    trainer = ctx.trainer(net, F.mse_loss, optimizer, train, test, name=name, classification=False,
                          checkpoint_every=cfg.epochs, scheduler=build_schedule(cfg, optimizer, len(train)))
    trainer.progress.enabled = False  # 15 tiny networks: one line each instead
    history = ctx.fit(trainer, curves=False)
    if ctx.progress and history:
        print(f"{name}: train_loss {history[-1]['train_loss']:.4g}  test_loss {history[-1]['test_loss']:.4g}",
              file=sys.stderr, flush=True)
    return history


@torch.no_grad()
def mse(net: nn.Module, u: Tensor, y: Tensor) -> float:
    return F.mse_loss(net(u), y).item()


def deep_vs_shallow(cfg: DeepVsShallowConfig, ctx: RunContext) -> dict[str, Any]:
    m = cfg.compositions
    x = midpoint_grid(cfg.points).float()[:, None]
    x_test = torch.rand(TEST_POINTS, 1, generator=torch.Generator().manual_seed(cfg.seed))
    u, y, u_test, y_test = 2 * x - 1, tent_power(x, m), 2 * x_test - 1, tent_power(x_test, m)
    train = TensorLoader(u, y, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, device=ctx.device)
    test = TensorLoader(u_test, y_test, batch_size=TEST_POINTS, device=ctx.device)
    grid_u = 2 * midpoint_grid(GRID_POINTS) - 1

    summary: dict[str, Any] = {"compositions": m, "target_pieces": 2 ** m, "budget": cfg.budget,
                               "deep_parameters_needed": 6 * m + 1, "shallow_parameters_needed": 3 * 2 ** m - 2}
    fits: dict[int, nn.Module] = {}
    rows = []
    for depth in cfg.depth_list:
        width = width_for(depth, cfg.budget)
        results = []
        for restart in range(1, cfg.restarts + 1):
            torch.manual_seed(cfg.seed * 1000 + restart)  # restart r starts from the same seed at every depth
            net = relu_network(depth, width).to(ctx.device)
            _fit(cfg, ctx, f"depth-{depth}-restart-{restart}", net, train, test)
            net = net.cpu().eval()
            results.append({"restart": restart, "train_loss": mse(net, u, y), "test_loss": mse(net, u_test, y_test),
                            **vars(count_pieces(net, grid_u)), "net": net})
        best = min(results, key=lambda r: r["train_loss"])
        fits[depth] = best.pop("net")
        rows.append({"depth": depth, "width": width, "parameters": parameter_count(depth, width),
                     "train_loss": best["train_loss"], "test_loss": best["test_loss"], "pieces": best["pieces"],
                     "regions": best["regions"], "restart_losses": [r["train_loss"] for r in results],
                     "restart_pieces": [r["pieces"] for r in results]})
    best_row = min(rows, key=lambda r: r["train_loss"])
    summary.update({"shallow_loss": rows[0]["train_loss"], "shallow_pieces": rows[0]["pieces"],
                    "best_depth": best_row["depth"], "best_loss": best_row["train_loss"],
                    "best_pieces": best_row["pieces"], "trained": rows,
                    "constructions": constructions(cfg.largest_m)})
    summary["construction_exact"] = all(r["deep_max_error"] == 0 == r["shallow_max_error"] and
                                        r["deep_pieces"] == r["target_pieces"] == r["shallow_pieces"]
                                        for r in summary["constructions"])
    _fits_figure(ctx, fits, rows, m)
    _depth_figure(ctx, rows, m)
    _parameters_figure(ctx, summary["constructions"])
    return summary


# ---- figures ---------------------------------------------------------------------------------

def _fits_figure(ctx: RunContext, fits: dict[int, nn.Module], rows: list[dict[str, Any]], m: int) -> None:
    """The target sawtooth and each depth's best trained fit."""
    fig, axes = new_figure(ncols=1, size=(9.5, 3.8))
    ax = axes[0][0]
    x = torch.linspace(0, 1, 2001)[:, None]
    ax.plot(x[:, 0], tent_power(x, m)[:, 0], color="k", linewidth=2.5, alpha=0.35, label=f"target T^{m}")
    for i, row in enumerate(rows):
        with torch.no_grad():
            ax.plot(x[:, 0], fits[row["depth"]](2 * x - 1)[:, 0], color=f"C{i}", linewidth=1.2,
                    label=f"{row['depth']} × {row['width']} ({row['parameters']} params): "
                          f"MSE {row['train_loss']:.2g}, {row['pieces']} pieces")
    ax.set(xlabel="x", ylabel="f(x)", title=f"networks of ≈ equal size fitted to the sawtooth T^{m} (best restart)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(alpha=0.3)
    ctx.save_figure(fig, "fits")


def _depth_figure(ctx: RunContext, rows: list[dict[str, Any]], m: int) -> None:
    """Training loss and linear pieces against depth at equal parameters (every restart a dot)."""
    fig, axes = new_figure(ncols=2, size=(5.0, 3.8))
    loss_ax, piece_ax = axes[0]
    depths = [r["depth"] for r in rows]
    for row in rows:
        n = len(row["restart_losses"])
        loss_ax.scatter([row["depth"]] * n, row["restart_losses"], color="C0", alpha=0.5, s=14)
        piece_ax.scatter([row["depth"]] * n, row["restart_pieces"], color="C0", alpha=0.5, s=14)
    loss_ax.plot(depths, [r["train_loss"] for r in rows], color="C0", marker="o", label="best restart")
    piece_ax.plot(depths, [r["pieces"] for r in rows], color="C0", marker="o", label="best restart")
    piece_ax.axhline(2 ** m, color="k", linestyle="--", label=f"target: 2^{m} = {2 ** m}")
    loss_ax.set_yscale("log")
    loss_ax.set(xlabel="hidden layers (equal parameters)", ylabel="training MSE (log scale)",
                title="loss reached")
    piece_ax.set(xlabel="hidden layers (equal parameters)", ylabel="linear pieces on [0, 1]",
                 title="pieces the trained network computes")
    for ax in (loss_ax, piece_ax):
        ax.set_xticks(depths)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    ctx.save_figure(fig, "depth")


def _parameters_figure(ctx: RunContext, rows: list[dict[str, Any]]) -> None:
    """Parameters that compute Tᵐ exactly: deep (6m + 1) against shallow (≥ 3·2ᵐ − 2), log scale."""
    fig, axes = new_figure(ncols=1, size=(6.0, 3.8))
    ax = axes[0][0]
    ms = [r["m"] for r in rows]
    ax.plot(ms, [r["deep_parameters"] for r in rows], marker="o", label="deep: m layers × 2 units (built, checked)")
    ax.plot(ms, [r["shallow_parameters"] for r in rows], marker="s", label="shallow: 2^m units (built, checked)")
    ax.plot(ms, [r["shallow_parameters_bound"] for r in rows], linestyle="--", color="C1",
            label="shallow lower bound 3·2^m − 2")
    ax.set_yscale("log")
    ax.set(xlabel="m (the sawtooth T^m has 2^m pieces)", ylabel="parameters (log scale)",
           title="parameters needed to compute the sawtooth exactly")
    ax.set_xticks(ms)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "parameters")


EXPERIMENTS = [
    Experiment("deep-vs-shallow", "guide",
               "ReLU networks of equal size and depth 1…6 fitted to a sawtooth (composed tent maps): loss and "
               "linear pieces; hand-built deep (6m+1 params) vs shallow (≥ 3·2^m−2) networks computing it exactly",
               DeepVsShallowConfig, deep_vs_shallow,
               headline=("shallow_loss", "best_depth", "best_loss", "target_pieces", "best_pieces",
                         "deep_parameters_needed", "shallow_parameters_needed")),
]
