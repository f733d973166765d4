"""Chapter 2 — generalisation: underfitting, overfitting, capacity, weight decay, model selection.

- ``polyfit``: the book's cubic ``5 + 1.2x − 3.4x²/2! + 5.6x³/3! + ε`` fitted by SGD with
  polynomials of degree 1 (underfits), 3 (the true degree) and 19 (all 20 features, the
  book's "degree-20" fit, overfits) on 20 samples, tested on 1,000.
- ``capacity``: the U-curve: train and test loss of the least-squares polynomial of each
  degree 0 … 10, and of one fixed degree as the training set shrinks.
- ``weight-decay``: the book's 200-feature linear regression with 20 training samples,
  trained for a list of λ twice: with the scratch penalty ``λ·l2_penalty(w)`` in the loss
  and with ``torch.optim.SGD(weight_decay=λ)``; the two take the same steps.
- ``kfold``: λ for the same problem chosen by K-fold cross-validation on the training
  samples (scratch fold indices, checked equal to scikit-learn's ``KFold``), then retrained
  on all of them and tested.

Losses are the course's ``½ mean (ŷ − y)²``, so pure label noise of std σ costs ``σ²/2``
(0.005 for σ = 0.1). The models are linear and the data sets small; default runs took
14 s (polyfit), 1 s (capacity), 20 s (weight-decay) and 43 s (kfold) of training on a
2-core machine shared with other jobs (load ≈ 6), about a third of that when idle.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.config import RunConfig, parse_list
from divelab.data import TensorLoader
from divelab.data.polynomial import CUBIC, polynomial_data, polynomial_features
from divelab.data.synthetic import linear_data
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.models.linear import LinearRegression
from divelab.report.figures import new_figure
from divelab.scratch.kfold import kfold_indices
from divelab.scratch.losses import squared_loss
from divelab.scratch.models import LinearRegressionScratch
from divelab.scratch.optim import SGD as ScratchSGD
from divelab.scratch.regularization import l2_penalty
from divelab.train.trainer import Trainer, evaluate

EVAL_BATCH = 1024
MAX_DEGREE = 30  # x^i / i! stays finite in float32 (34! ≈ 3·10³⁸ is the largest factorial it holds)


# ---- helpers shared by the experiments ------------------------------------------------------

def data_loss(model: nn.Module, loader: TensorLoader) -> float:
    """``½ mean (ŷ − y)²`` of ``model`` over all of ``loader`` (no penalty term)."""
    return evaluate(model, loader, squared_loss, classification=False)["loss"]


def _fit_quietly(ctx: RunContext, trainer: Trainer) -> list[dict[str, Any]]:
    """Train a sub-run without the trainer's line per epoch: sweeps train dozens of tiny
    models for hundreds of epochs each; :func:`_announce` gives one line per model instead."""
    trainer.progress.enabled = False
    return ctx.fit(trainer, curves=False)


def _announce(ctx: RunContext, name: str, **numbers: float) -> None:
    """One progress line ``name: key value …`` on stderr, unless the run is quiet."""
    if ctx.progress:
        print(f"{name}: " + "  ".join(f"{k} {v:.4g}" for k, v in numbers.items()), file=sys.stderr, flush=True)


def _lambda_axis(ax: Any, lambdas: list[float]) -> None:
    """λ on a log scale that still shows λ = 0 (linear between 0 and the smallest positive λ)."""
    positive = [lam for lam in lambdas if lam > 0]
    linthresh = min(positive) if positive else 1.0
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.set_xlim(min(lambdas) - 0.3 * linthresh, max(lambdas) * 1.5 if positive else 1.0)
    ax.set_xlabel("weight decay λ (symmetric log scale: 0 is shown)")
    ax.grid(alpha=0.3, which="both")


# ---- polyfit: under-, right and overfitting -------------------------------------------------

@dataclass
class PolyFitConfig(RunConfig):
    """The book's polynomial fitting on few samples.

    20 training samples rather than the book's 100, so that the 20-feature fit has as many
    coefficients as data and visibly overfits. The features ``x^i / i!`` are badly
    conditioned (the high powers are tiny), so plain SGD at the book's lr 0.01 would take
    tens of thousands of steps to fit even the cubic; momentum 0.9 with lr 0.05 gets there
    in 400 epochs of 2 batches.
    """

    epochs: int = 400
    batch_size: int = 10
    lr: float = 0.05
    momentum: float = 0.9
    num_train: int = 20
    num_test: int = 1000
    noise: float = 0.1
    degrees: str = "1,3,19"  # polynomial degrees: degree d uses the d + 1 features x^0/0! … x^d/d!

    def validate(self) -> None:
        super().validate()
        if self.num_train < 1 or self.num_test < 1:
            raise UserError("num_train and num_test must be ≥ 1")
        if self.noise < 0:
            raise UserError(f"noise must be ≥ 0, got {self.noise}")
        if not 0 <= self.momentum < 1:
            raise UserError(f"momentum must be in [0, 1), got {self.momentum}")
        if not all(0 <= d <= MAX_DEGREE for d in self.degree_list):
            raise UserError(f"degrees must be between 0 and {MAX_DEGREE}, got {self.degrees!r}")

    @property
    def degree_list(self) -> list[int]:
        return parse_list("degrees", self.degrees, int)


def polynomial_model(num_features: int) -> nn.Module:
    """``ŷ = Φ(x) w`` with no bias (feature 0 is the constant 1), starting from ``w = 0``."""
    model = nn.Sequential(nn.Linear(num_features, 1, bias=False), nn.Flatten(start_dim=0))  # (n, 1) -> (n,)
    nn.init.zeros_(model[0].weight)
    return model


def polyfit(cfg: PolyFitConfig, ctx: RunContext) -> dict[str, Any]:
    degrees = cfg.degree_list
    num_features = max(max(degrees) + 1, len(CUBIC))
    x, features, y = polynomial_data(cfg.num_train + cfg.num_test, num_features, noise=cfg.noise, seed=cfg.seed)
    n = cfg.num_train
    summary: dict[str, Any] = {"num_train": n, "num_test": cfg.num_test, "noise_loss": cfg.noise ** 2 / 2}
    histories, models = {}, {}
    for degree in degrees:
        k = degree + 1
        model = polynomial_model(k).to(ctx.device)
        train = TensorLoader(features[:n, :k], y[:n], batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed,
                             device=ctx.device)
        train_eval = TensorLoader(features[:n, :k], y[:n], batch_size=EVAL_BATCH, device=ctx.device)
        test = TensorLoader(features[n:, :k], y[n:], batch_size=EVAL_BATCH, device=ctx.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
        trainer = ctx.trainer(model, squared_loss, optimizer, train, test, name=f"degree-{degree}",
                              classification=False, checkpoint_every=cfg.epochs)
        histories[degree] = _fit_quietly(ctx, trainer)
        models[degree] = model
        summary[f"degree_{degree}_train_loss"] = data_loss(model, train_eval)
        summary[f"degree_{degree}_test_loss"] = data_loss(model, test)
        _announce(ctx, trainer.name, train_loss=summary[f"degree_{degree}_train_loss"],
                  test_loss=summary[f"degree_{degree}_test_loss"])
    if 3 in models:  # the true degree: are the true coefficients recovered?
        learned = models[3][0].weight.detach().reshape(-1).cpu()
        summary["degree_3_coefficients"] = [round(v, 4) for v in learned.tolist()]
        summary["true_coefficients"] = list(CUBIC)
        summary["degree_3_coefficient_error"] = (learned - torch.tensor(CUBIC)).abs().max().item()
    _polyfit_loss_figure(ctx, histories, summary["noise_loss"])
    _polyfit_curve_figure(ctx, models, x[:n], y[:n], x[n:], y[n:])
    return summary


def _polyfit_loss_figure(ctx: RunContext, histories: dict[int, list[dict[str, Any]]], noise_loss: float) -> None:
    fig, axes = new_figure(size=(6.5, 4.5))
    ax = axes[0][0]
    for i, (degree, history) in enumerate(histories.items()):
        epochs = [r["epoch"] for r in history]
        ax.plot(epochs, [r["train_loss"] for r in history], color=f"C{i}", label=f"degree {degree}: train")
        ax.plot(epochs, [r["test_loss"] for r in history], color=f"C{i}", linestyle="--",
                label=f"degree {degree}: test")
    ax.axhline(noise_loss, color="k", linestyle=":", label="noise level σ²/2")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss ½(ŷ − y)²")
    ax.set_title("underfit (degree 1), fit (3), overfit (19)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncols=2)
    ctx.save_figure(fig, "losses")


@torch.inference_mode()
def _polyfit_curve_figure(ctx: RunContext, models: dict[int, nn.Module], x_train: Tensor, y_train: Tensor,
                          x_test: Tensor, y_test: Tensor) -> None:
    grid = torch.linspace(x_test.min().item(), x_test.max().item(), 400)
    fig, axes = new_figure(size=(6.5, 4.5))
    ax = axes[0][0]
    ax.scatter(x_test, y_test, s=4, color="0.75", label="test samples")
    ax.scatter(x_train, y_train, s=25, color="k", zorder=3, label="training samples")
    ax.plot(grid, polynomial_features(grid, len(CUBIC)) @ torch.tensor(CUBIC), color="k", linestyle=":",
            label="true cubic")
    for i, (degree, model) in enumerate(models.items()):
        k = model[0].in_features
        ax.plot(grid, model(polynomial_features(grid, k).to(ctx.device)).cpu(), color=f"C{i}",
                label=f"degree {degree}")
    low, high = y_test.min().item(), y_test.max().item()
    margin = 0.15 * (high - low)
    ax.set_ylim(low - margin, high + margin)  # the overfit curve may leave the data's range: cut it there
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("fitted polynomials (test samples beyond the training range expose the overfit)")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "fits")


# ---- capacity: the U-curve ----------------------------------------------------------------

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
    num_test: int = 1000
    noise: float = 0.1
    max_degree: int = 10
    repeats: int = 10
    size_degree: int = 6  # the fixed model of the training-set-size sweep
    sizes: str = "8,10,15,20,30,50,100,200,500,1000"

    def validate(self) -> None:
        super().validate()
        if self.num_test < 1 or self.repeats < 1:
            raise UserError("num_test and repeats must be ≥ 1")
        if not 0 <= self.max_degree < min(self.num_train, MAX_DEGREE + 1):
            raise UserError(f"max_degree must be at most num_train − 1 = {self.num_train - 1} (so that every fit is "
                            f"determined by the data) and at most {MAX_DEGREE}; got {self.max_degree}")
        if self.noise < 0:
            raise UserError(f"noise must be ≥ 0, got {self.noise}")
        if not 0 <= self.size_degree <= MAX_DEGREE:
            raise UserError(f"size_degree must be between 0 and {MAX_DEGREE}, got {self.size_degree}")
        if min(self.size_list) <= self.size_degree:
            raise UserError(f"every size must exceed size_degree = {self.size_degree} (a degree-d polynomial has "
                            f"d + 1 coefficients); got sizes {self.sizes!r}")

    @property
    def size_list(self) -> list[int]:
        return sorted(parse_list("sizes", self.sizes, int))


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
            "degrees": degrees, "train_loss_by_degree": _rounded(degree_median[0]),
            "test_loss_by_degree": _rounded(degree_median[1]),
            "size_degree": cfg.size_degree, "sizes": sizes, "train_loss_by_size": _rounded(size_median[0]),
            "test_loss_by_size": _rounded(size_median[1])}


def _rounded(values: np.ndarray) -> list[float]:
    """Four significant digits: enough to read, short enough for summary.json."""
    return [float(f"{v:.4g}") for v in values]


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


# ---- the high-dimensional linear regression of weight-decay and kfold ----------------------

@dataclass
class HighDimConfig(RunConfig):
    """The book's weight-decay problem: ``y = 0.05 + Σ_i 0.01 x_i + ε``, ε ~ N(0, 0.01²),
    ``num_inputs`` = 200 features but only 20 training samples, so unregularised least
    squares can fit the training set exactly and generalise badly. Weights start from
    N(0, ``init_std``²) as in the book; ``lambdas`` lists the weight-decay strengths."""

    epochs: int = 100
    batch_size: int = 5
    lr: float = 0.003
    num_inputs: int = 200
    num_train: int = 20
    num_test: int = 100
    noise: float = 0.01
    init_std: float = 1.0
    lambdas: str = "0,0.1,0.3,1,3,10,30,100"

    def validate(self) -> None:
        super().validate()
        if self.num_inputs < 1 or self.num_train < 1 or self.num_test < 1:
            raise UserError("num_inputs, num_train and num_test must be ≥ 1")
        if self.noise < 0 or self.init_std < 0:
            raise UserError("noise and init_std must be ≥ 0")
        if any(lam < 0 for lam in self.lambda_list):
            raise UserError(f"weight decay λ must be ≥ 0, got lambdas={self.lambdas!r}")

    @property
    def lambda_list(self) -> list[float]:
        return parse_list("lambdas", self.lambdas, float)


def _high_dim_data(cfg: HighDimConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Training and test samples, drawn with seeds ``seed`` and ``seed + 1``."""
    w = torch.full((cfg.num_inputs,), 0.01)
    X, y = linear_data(w, 0.05, cfg.num_train, cfg.noise, seed=cfg.seed)
    X_test, y_test = linear_data(w, 0.05, cfg.num_test, cfg.noise, seed=cfg.seed + 1)
    return X, y, X_test, y_test


def _initial_weights(cfg: HighDimConfig) -> tuple[Tensor, Tensor]:
    """``w ~ N(0, init_std²)`` of shape (1, num_inputs) and ``b = 0``, from seed ``seed + 2``:
    every model of a run starts from these, so scratch and library runs can be compared."""
    gen = torch.Generator().manual_seed(cfg.seed + 2)
    return cfg.init_std * torch.randn(1, cfg.num_inputs, generator=gen), torch.zeros(1)


class Setup(NamedTuple):
    """A linear regression ready to train with weight decay: model, its weight, loss, optimizer."""

    model: nn.Module
    weight: Tensor
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    optimizer: Any


def weight_decay_scratch(w0: Tensor, b0: Tensor, lam: float, lr: float) -> Setup:
    """Scratch model and SGD; the loss is ``½ mean (ŷ − y)² + λ · l2_penalty(w)`` (bias not penalised)."""
    model = LinearRegressionScratch(w0.shape[1]).to(w0.device, w0.dtype)
    with torch.no_grad():
        model.weight.copy_(w0)
        model.bias.copy_(b0)

    def penalised_loss(y_hat: Tensor, y: Tensor) -> Tensor:
        return squared_loss(y_hat, y) + lam * l2_penalty(model.weight)

    return Setup(model, model.weight, penalised_loss, ScratchSGD(model.parameters(), lr=lr))


def weight_decay_library(w0: Tensor, b0: Tensor, lam: float, lr: float) -> Setup:
    """``nn.Linear`` and ``torch.optim.SGD`` with ``weight_decay=λ`` on the weight only; plain loss."""
    model = LinearRegression(w0.shape[1]).to(w0.device, w0.dtype)
    with torch.no_grad():
        model.net.weight.copy_(w0)
        model.net.bias.copy_(b0)
    optimizer = torch.optim.SGD([{"params": [model.net.weight], "weight_decay": lam},
                                 {"params": [model.net.bias], "weight_decay": 0.0}], lr=lr)
    return Setup(model, model.net.weight, lambda y_hat, y: 0.5 * F.mse_loss(y_hat, y), optimizer)


def _train_setup(ctx: RunContext, cfg: HighDimConfig, setup: Setup, name: str, X: Tensor, y: Tensor,
                 held_out: TensorLoader, held_out_name: str = "test") -> dict[str, float]:
    """Train ``setup`` on ``(X, y)``; each epoch's record gains ``train_eval_loss`` (data loss on
    all of ``X``, without the penalty) and ``test_loss`` (or ``val_loss``: the data loss on
    ``held_out``). Returns the final ``train_loss`` and ``test_loss`` (or ``val_loss``)."""
    train = TensorLoader(X, y, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, device=ctx.device)
    train_eval = TensorLoader(X, y, batch_size=EVAL_BATCH, device=ctx.device)

    def record_data_losses(_trainer: Any, record: dict[str, Any]) -> None:
        record["train_eval_loss"] = data_loss(setup.model, train_eval)
        record[f"{held_out_name}_loss"] = data_loss(setup.model, held_out)

    trainer = ctx.trainer(setup.model, setup.loss_fn, setup.optimizer, train, name=name, classification=False,
                          callbacks=[record_data_losses], checkpoint_every=cfg.epochs)
    _fit_quietly(ctx, trainer)
    final = {"train_loss": data_loss(setup.model, train_eval),
             f"{held_out_name}_loss": data_loss(setup.model, held_out)}
    _announce(ctx, name, **final)
    return final


# ---- weight-decay ---------------------------------------------------------------------------

@dataclass
class WeightDecayConfig(HighDimConfig):
    """λ = 0 must be among ``lambdas``: it is the baseline. Each λ is trained twice (16 runs)."""

    def validate(self) -> None:
        super().validate()
        if 0.0 not in self.lambda_list:
            raise UserError(f"lambdas must include 0, the baseline without weight decay; got {self.lambdas!r}")


def weight_decay(cfg: WeightDecayConfig, ctx: RunContext) -> dict[str, Any]:
    """Every λ trained twice from the same initial weights and batches: scratch penalty, library option.

    The best λ is picked by test loss here, to show the effect; ``kfold`` picks it properly,
    without looking at the test set.
    """
    X, y, X_test, y_test = _high_dim_data(cfg)
    test = TensorLoader(X_test, y_test, batch_size=EVAL_BATCH, device=ctx.device)
    w0, b0 = (t.to(ctx.device) for t in _initial_weights(cfg))
    lambdas = cfg.lambda_list
    results: dict[str, list[float]] = {key: [] for key in
                                       ("train_loss_scratch", "test_loss_scratch", "train_loss_library",
                                        "test_loss_library", "weight_norm_scratch")}
    weight_diffs = []
    for lam in lambdas:
        scratch = weight_decay_scratch(w0, b0, lam, cfg.lr)
        library = weight_decay_library(w0, b0, lam, cfg.lr)
        for kind, setup in (("scratch", scratch), ("library", library)):
            final = _train_setup(ctx, cfg, setup, f"{kind}-lambda-{lam:g}", X, y, test)
            results[f"train_loss_{kind}"].append(final["train_loss"])
            results[f"test_loss_{kind}"].append(final["test_loss"])
        results["weight_norm_scratch"].append(scratch.weight.detach().norm().item())
        weight_diffs.append((scratch.weight.detach() - library.weight.detach()).abs().max().item())
    test_losses = results["test_loss_scratch"]
    best = int(np.argmin(test_losses))
    no_decay = test_losses[lambdas.index(0.0)]
    _weight_decay_figure(ctx, lambdas, results, true_norm=0.01 * math.sqrt(cfg.num_inputs))
    return {"lambdas": lambdas, **{key: _rounded(np.array(values)) for key, values in results.items()},
            "best_lambda": lambdas[best], "best_test_loss": test_losses[best], "no_decay_test_loss": no_decay,
            "no_decay_to_best_ratio": no_decay / test_losses[best],
            "max_scratch_library_diff": max(abs(a - b) for a, b in zip(test_losses, results["test_loss_library"])),
            "max_weight_diff": max(weight_diffs)}


def _weight_decay_figure(ctx: RunContext, lambdas: list[float], results: dict[str, list[float]],
                         true_norm: float) -> None:
    fig, axes = new_figure(ncols=2, size=(5, 4))
    ax = axes[0][0]
    for i, split in enumerate(("train", "test")):
        ax.plot(lambdas, results[f"{split}_loss_scratch"], marker="o", color=f"C{i}",
                label=f"{split} (scratch penalty)")
        ax.plot(lambdas, results[f"{split}_loss_library"], marker="x", markersize=9, linestyle="--", color=f"C{i}",
                alpha=0.8, label=f"{split} (SGD weight_decay)")
    ax.set_yscale("log")
    ax.set_ylabel("loss ½(ŷ − y)² (no penalty)")
    ax.set_title("loss after training vs λ")
    _lambda_axis(ax, lambdas)
    ax.legend(fontsize=8)
    ax = axes[0][1]
    ax.plot(lambdas, results["weight_norm_scratch"], marker="o", color="C2")
    ax.axhline(true_norm, color="k", linestyle=":", label="‖true w‖")
    ax.set_yscale("log")
    ax.set_ylabel("‖w‖ after training")
    ax.set_title("weight decay shrinks the weights")
    _lambda_axis(ax, lambdas)
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "lambda")


# ---- kfold: choosing λ by cross-validation --------------------------------------------------

@dataclass
class KFoldConfig(HighDimConfig):
    """``folds``-fold cross-validation on the ``num_train`` training samples over the
    candidates ``lambdas`` (scratch penalty), then one run on all of them with the chosen λ.
    ``shuffle`` permutes the samples before cutting folds, with ``seed`` (scikit-learn's
    ``random_state``). The defaults train 8 candidates × 5 folds + 1 = 41 models."""

    folds: int = 5
    shuffle: bool = True

    def validate(self) -> None:
        super().validate()
        if not 2 <= self.folds <= self.num_train:
            raise UserError(f"folds must be between 2 and num_train = {self.num_train}, got {self.folds}")
        if self.shuffle and not 0 <= self.seed < 2 ** 32:
            raise UserError(f"shuffled folds need a seed in [0, 2**32) (numpy's RandomState); got {self.seed}")


def folds_match_sklearn(folds: list[tuple[Tensor, Tensor]], n: int, k: int, shuffle: bool,
                        seed: int | None) -> bool:
    """Whether ``folds`` equal scikit-learn's ``KFold`` folds, index for index."""
    from sklearn.model_selection import KFold  # imported here: it is slow to import and used only here

    theirs = list(KFold(n_splits=k, shuffle=shuffle, random_state=seed).split(np.zeros((n, 1))))
    return len(theirs) == len(folds) and all(
        np.array_equal(train.numpy(), their_train) and np.array_equal(val.numpy(), their_val)
        for (train, val), (their_train, their_val) in zip(folds, theirs))


def kfold(cfg: KFoldConfig, ctx: RunContext) -> dict[str, Any]:
    X, y, X_test, y_test = _high_dim_data(cfg)
    test = TensorLoader(X_test, y_test, batch_size=EVAL_BATCH, device=ctx.device)
    w0, b0 = (t.to(ctx.device) for t in _initial_weights(cfg))
    seed = cfg.seed if cfg.shuffle else None
    folds = kfold_indices(cfg.num_train, cfg.folds, shuffle=cfg.shuffle, seed=seed)
    lambdas = cfg.lambda_list
    scores = np.zeros((len(lambdas), cfg.folds))  # validation loss of each candidate on each fold
    for i, lam in enumerate(lambdas):
        for j, (train_idx, val_idx) in enumerate(folds):
            val = TensorLoader(X[val_idx], y[val_idx], batch_size=EVAL_BATCH, device=ctx.device)
            setup = weight_decay_scratch(w0, b0, lam, cfg.lr)
            scores[i, j] = _train_setup(ctx, cfg, setup, f"lambda-{lam:g}-fold-{j + 1}", X[train_idx], y[train_idx],
                                        val, "val")["val_loss"]
    mean, std = scores.mean(axis=1), scores.std(axis=1, ddof=1)
    chosen = int(np.argmin(mean))
    final = _train_setup(ctx, cfg, weight_decay_scratch(w0, b0, lambdas[chosen], cfg.lr), "final", X, y, test)
    match = folds_match_sklearn(folds, cfg.num_train, cfg.folds, cfg.shuffle, seed)
    _kfold_figure(ctx, lambdas, scores, chosen, cfg.folds)
    return {
        "folds_match_sklearn": match, "fold_sizes": [len(val) for _, val in folds], "lambdas": lambdas,
        "cv_val_loss_mean": _rounded(mean), "cv_val_loss_std": _rounded(std),
        **{f"fold_val_loss_lambda_{lam:g}": _rounded(scores[i]) for i, lam in enumerate(lambdas)},
        "chosen_lambda": lambdas[chosen], "cv_val_loss": float(mean[chosen]),
        "train_loss": final["train_loss"], "test_loss": final["test_loss"]}


def _kfold_figure(ctx: RunContext, lambdas: list[float], scores: np.ndarray, chosen: int, k: int) -> None:
    fig, axes = new_figure(size=(6, 4.2))
    ax = axes[0][0]
    for j in range(k):
        ax.scatter(lambdas, scores[:, j], s=10, color="0.6", label="one fold" if j == 0 else None)
    ax.errorbar(lambdas, scores.mean(axis=1), yerr=scores.std(axis=1, ddof=1), marker="o", capsize=3, color="C0",
                label="mean ± std over folds")
    ax.axvline(lambdas[chosen], color="C2", linestyle="--", label=f"chosen λ = {lambdas[chosen]:g}")
    ax.set_yscale("log")
    ax.set_ylabel("validation loss ½(ŷ − y)²")
    ax.set_title(f"{k}-fold cross-validation of the weight decay λ")
    _lambda_axis(ax, lambdas)
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "cross-validation")


EXPERIMENTS = [
    Experiment("polyfit", "generalization",
               "cubic data fitted with degree 1 / 3 / 19 polynomials on 20 samples: underfit, fit, overfit",
               PolyFitConfig, polyfit, headline=("degree_1_test_loss", "degree_3_test_loss", "degree_19_train_loss",
                                                 "degree_19_test_loss")),
    Experiment("capacity", "generalization",
               "train and test loss as polynomial degree grows and as the training set shrinks (the U-curve)",
               CapacityConfig, capacity, headline=("best_degree", "best_test_loss")),
    Experiment("weight-decay", "generalization",
               "200-feature / 20-sample linear regression: test loss vs λ, scratch L2 penalty vs SGD weight_decay",
               WeightDecayConfig, weight_decay,
               headline=("no_decay_test_loss", "best_test_loss", "best_lambda", "max_scratch_library_diff")),
    Experiment("kfold", "generalization",
               "K-fold cross-validation chooses the weight decay λ; scratch folds equal scikit-learn's KFold",
               KFoldConfig, kfold, headline=("chosen_lambda", "cv_val_loss", "test_loss")),
]
