"""The training guide — a validation set can be overfitted too (issue 16).

Choosing the best of very many models by one validation score makes that score
optimistic: the winner is partly the luckiest. ``model-selection`` fits a pool of
M = 1,000 cheap classifiers on Fashion-MNIST, scores each on a SMALL validation set (300
images: a score's noise is ``√(p(1−p)/300) ≈ 0.025``) and on the full 10,000-image test set,
and for N = 1 … M asks: if we keep the model with the best validation accuracy among N,
how good does it look on validation, and how good is it on test?

**The models** are random-features classifiers: a random ReLU projection of the centred,
flattened image, ``φ(x) = ReLU(Wᵀ(x − x̄) + b)`` with k features (k log-uniform in
``[min_features, max_features]``), and a ridge-regression readout on one-hot targets Y,
solved in closed form (:func:`ridge_readout`, λ log-uniform in ``[min_lambda, max_lambda]``,
relative to the mean squared feature). Instead of one 784×k projection per model, one bank
of ``bank`` = 4,096 random features is drawn once and each model takes its own seeded
random choice of k of them: marginally that is exactly a model with its own random
projection (the bank's columns are iid), but the features of all images and their Gram
matrix are computed once, so a model costs a k×k solve plus two predictions instead of a
projection of 12,300 images (150 GFLOP for the bank and Gram matrix instead of ≈ 3,300 for
1,000 own projections of mean k ≈ 173). Models that share bank columns are correlated, as
the candidates of a real search are.

**The selection curves** are exact, not sampled (the brief suggested 200 random N-subsets
per N). Rank the pool by validation accuracy (ties broken by a seeded random order); the
best of a random N-subset is the i-th ranked model with probability
``C(i−1, N−1) / C(M, N)`` (:func:`~divelab.analysis.selection.best_of_subset_weights`), so
the chosen model's mean validation and test accuracy, and their 10–90 % bands, are weighted
sums over the pool — no Monte Carlo noise, at no cost. Beside them:

- ``expected_max_pool``: ``E[max of N draws]`` from the pool's validation scores, with
  replacement, ``Σ_i x_(i)[(i/M)^N − ((i−1)/M)^N]`` (≈ the chosen model's validation
  curve, which draws without replacement; they part only as N nears M);
- ``expected_max_noise``: pure luck: if every model had the pool's mean test accuracy p,
  a validation score is ``Binomial(n_val, p)/n_val`` and
  ``E[max of N] = Σ_k (k/n_val)[F(k)^N − F(k−1)^N]``; its rise above p is the optimism
  that needs no real difference between the models at all;
- ``best_test_acc``: the expected best TEST accuracy among the N (the oracle's choice).

The summary's ``val_acc``/``test_acc`` are the best of all M by validation accuracy;
``optimism`` = val − test. Two things beside luck move it: ``val_set_offset``, how much
easier the one validation set is than the test set for the pool as a whole (its mean
val − test, the N = 1 point: +0.017 at seed 0, −0.026 at seed 2), and the correlation of
the models' luck: they are scored on the same 300 images and make much the same mistakes,
so a model's val − test spreads by sd ≈ 0.016, not the ≈ 0.026 of independent binomial
noise, and the measured optimism stays below the pure-noise curve.
``selection_optimism`` = optimism − offset is the part selection adds.

Measured (``divelab run model-selection``, seed 0): the best of 1,000 scores 0.840 on
validation and 0.794 on test (optimism 0.046, of which selection 0.029; 138 models of the
pool are better on test, the best 0.811); pure noise would give 0.079. Over seeds 0–3 the
optimism was 0.016–0.046 and its selection part 0.028–0.042. A run took 10.6 s on two CPU
cores shared with other jobs (load 2.4), 33 s at load 3.5, data loading included.

This is one experiment, kept in one module of about 360 lines because a sixth of it is
this docstring, which explains the method and quotes its measured numbers.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.analysis.selection import (best_of_subset_weights, expected_max_binomial, expected_max_empirical,
                                        weighted_quantile)
from divelab.config import FashionConfig, setting
from divelab.data import fashion_mnist
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.report.figures import new_figure

MIN_TRAIN, MIN_VAL = 20, 10
BAND = (0.1, 0.9)  # the selection bands: 10th to 90th percentile of the chosen model's score


@dataclass
class ModelSelectionConfig(FashionConfig):
    """A pool of ``models`` random-features classifiers (see the module docstring).

    Nothing trains by epochs here (each readout is solved in closed form), so ``epochs``,
    ``batch_size`` and ``lr`` are unused. ``val_size`` images are taken out of the training
    images for validation and ``train_size`` of the rest fit the readouts (0: all of the
    rest); where there are too few images for both (the tests' 512), validation takes at
    most a quarter and training the remainder; the summary gives the sizes used. ``n_list``
    values above ``models`` are dropped and ``models`` itself is always included: it is the
    summary's selected model.
    """

    epochs: int = 1
    models: int = setting(1000, ge=1)
    train_size: int = setting(2000, ge=0, note="0 = all the rest")
    val_size: int = setting(300, ge=MIN_VAL)
    n_list: tuple[int, ...] = setting((1, 2, 5, 10, 20, 50, 100, 200, 500, 1000), ge=1, distinct=True)
    min_features: int = 32
    max_features: int = 512
    bank: int = 4096
    min_lambda: float = 1e-4
    max_lambda: float = 1.0

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.min_features <= self.max_features <= self.bank:
            raise UserError("need 1 ≤ min_features ≤ max_features ≤ bank; got "
                            f"{self.min_features}, {self.max_features}, {self.bank}")
        if not 0 < self.min_lambda <= self.max_lambda < math.inf:
            raise UserError(f"need 0 < min_lambda ≤ max_lambda; got {self.min_lambda}, {self.max_lambda}")

    @property
    def sizes_n(self) -> list[int]:
        """The N of the table: ``n_list`` up to ``models``, and ``models``."""
        return sorted({n for n in self.n_list if n < self.models} | {self.models})


# ---- the pool of random-features models ----------------------------------------------------

def ridge_readout(gram: Tensor, cross: Tensor, feature_mean: Tensor, target_mean: Tensor,
                  lam: float) -> tuple[Tensor, Tensor]:
    """Ridge regression from centred second moments: ``β = (G + λ s I)⁻¹ C`` minimises
    ``(1/n)‖Φ_c β − Y_c‖² + λ s ‖β‖²``, with ``G = Φ_cᵀΦ_c / n``, ``C = Φ_cᵀY_c / n`` (features
    Φ and targets Y centred over the n training rows by their means φ̄ and ȳ, so the
    intercept ``ȳ − φ̄ᵀβ`` is not penalised) and ``s = tr(G)/k`` the mean squared centred
    feature, so λ is scale-free. Returns ``β`` (k, classes) and the intercept (classes,),
    solved in float64 and returned in ``cross``'s dtype; predictions are ``φ(x)ᵀβ + intercept``."""
    a = gram.to(torch.float64)
    scale = a.diagonal().mean().clamp_min(torch.finfo(torch.float64).tiny)
    a = a + lam * scale * torch.eye(len(a), dtype=torch.float64, device=a.device)
    beta = torch.linalg.solve(a, cross.to(torch.float64)).to(cross.dtype)
    return beta, target_mean - feature_mean @ beta


def feature_bank(x_train: Tensor, size: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """``size`` random ReLU features ``φ(x) = ReLU(Wᵀ(x − x̄) + b)``: ``W ~ N(0, 1/d)`` (d
    pixels), ``b ~ N(0, σ²)`` with σ the spread of ``Wᵀ(x − x̄)`` over the training images (so
    each unit cuts at a different level). Returns ``x̄`` (d,), ``W`` (d, size), ``b`` (size,),
    drawn on the CPU from ``seed`` (the same on every device)."""
    gen = torch.Generator().manual_seed(seed)
    mean = x_train.mean(dim=0)
    weight = torch.randn(x_train.shape[1], size, generator=gen).to(x_train.device) / math.sqrt(x_train.shape[1])
    spread = ((x_train - mean) @ weight).std()
    bias = torch.randn(size, generator=gen).to(x_train.device) * spread
    return mean, weight, bias


def relu_features(x: Tensor, mean: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``ReLU((x − x̄) W + b)``: flattened images (N, d) → features (N, size)."""
    return torch.relu((x - mean) @ weight + bias)


def draw_model(cfg: ModelSelectionConfig, index: int) -> tuple[np.ndarray, float]:
    """Model ``index``'s bank columns (k of them, k log-uniform) and its λ (log-uniform),
    from its own seed: model i is the same in a pool of any size."""
    rng = np.random.default_rng([cfg.seed, index])
    k = int(round(math.exp(rng.uniform(math.log(cfg.min_features), math.log(cfg.max_features)))))
    lam = math.exp(rng.uniform(math.log(cfg.min_lambda), math.log(cfg.max_lambda)))
    return np.sort(rng.choice(cfg.bank, size=k, replace=False)), lam


def fit_pool(cfg: ModelSelectionConfig, ctx: RunContext, split: dict[str, tuple[Tensor, Tensor]],
             ) -> dict[str, np.ndarray]:
    """Fit every model of the pool; its ``k``, ``lam`` and accuracy on ``val`` and ``test``."""
    x_train, y_train = split["train"]
    mean, weight, bias = feature_bank(x_train, cfg.bank, cfg.seed)
    phi = relu_features(x_train, mean, weight, bias)  # (n, bank)
    phi_mean = phi.mean(dim=0)
    phi.sub_(phi_mean)
    targets = F.one_hot(y_train, len(fashion_mnist.CLASS_NAMES)).to(phi.dtype)
    y_mean = targets.mean(dim=0)
    gram = phi.T @ phi / len(phi)  # (bank, bank)
    cross = phi.T @ (targets - y_mean) / len(phi)  # (bank, 10)
    del phi
    # held-out features stored as (bank, N): a model's k rows are then one contiguous gather
    held = {name: (relu_features(x, mean, weight, bias).T.contiguous(), y) for name, (x, y) in split.items()
            if name != "train"}
    correct = {name: torch.zeros(cfg.models, device=ctx.device) for name in held}
    ks, lams = np.zeros(cfg.models, dtype=np.int64), np.zeros(cfg.models)
    for i in range(cfg.models):
        cols, lams[i] = draw_model(cfg, i)
        ks[i] = len(cols)
        idx = torch.from_numpy(cols).to(ctx.device)
        beta, intercept = ridge_readout(gram[idx][:, idx], cross[idx], phi_mean[idx], y_mean, lams[i])  # (k, 10)
        for name, (feats, labels) in held.items():
            scores = beta.T @ feats.index_select(0, idx)  # (10, N)
            correct[name][i] = (scores + intercept[:, None]).argmax(dim=0).eq(labels).sum()
        if ctx.progress and ((i + 1) % max(1, cfg.models // 5) == 0):
            print(f"model-selection: {i + 1}/{cfg.models} models fitted", file=sys.stderr, flush=True)
    return {"k": ks, "lam": lams,
            **{f"{name}_acc": c.cpu().double().numpy() / len(held[name][1]) for name, c in correct.items()}}


# ---- data -----------------------------------------------------------------------------------

def split_sizes(available: int, train_size: int, val_size: int) -> tuple[int, int]:
    """(train, val) image counts taken out of ``available`` training images (see the config)."""
    if train_size and train_size + val_size <= available:
        return train_size, val_size
    val = min(val_size, available // 4)
    train = min(train_size or available, available - val)
    if train < MIN_TRAIN or val < MIN_VAL:
        raise UserError(f"only {available} training images: too few for a validation set of ≥ {MIN_VAL} and "
                        f"≥ {MIN_TRAIN} images to fit on; use the full Fashion-MNIST (unset data_dir / DIVELAB_DATA)")
    return train, val


def load_split(cfg: ModelSelectionConfig, device: torch.device) -> dict[str, tuple[Tensor, Tensor]]:
    """Flattened float images and labels on ``device``: disjoint random ``train`` and ``val``
    subsets of the training images (drawn with ``seed``), and the whole ``test`` set."""
    data = fashion_mnist.load(cfg.data_dir)
    n_train, n_val = split_sizes(len(data.train_labels), cfg.train_size, cfg.val_size)
    order = torch.randperm(len(data.train_labels), generator=torch.Generator().manual_seed(cfg.seed))
    parts = {"train": order[n_val:n_val + n_train], "val": order[:n_val]}

    def flat(images: Tensor) -> Tensor:
        return fashion_mnist.to_float(images).flatten(1).to(device)

    split = {name: (flat(data.train_images[idx]), data.train_labels[idx].to(device)) for name, idx in parts.items()}
    split["test"] = (flat(data.test_images), data.test_labels.to(device))
    return split


# ---- selection ------------------------------------------------------------------------------

def validation_ranking(val: np.ndarray, seed: int) -> np.ndarray:
    """The pool's models in ascending order of validation accuracy, ties in a seeded random
    order (scores on n images are multiples of 1/n: ties are common). The last is the chosen one."""
    tie_break = np.random.default_rng([seed, 1 << 30]).permutation(len(val))
    return np.lexsort((tie_break, val))


def selection_table(val: np.ndarray, test: np.ndarray, ns: list[int], n_val: int, seed: int) -> list[dict[str, Any]]:
    """For each N: the exact mean and 10–90 % band of the validation and test accuracy of the
    best-by-validation model of a random N-subset of the pool, the expected best test
    accuracy of the N, and the expected maxima of N noisy scores (module docstring)."""
    order = validation_ranking(val, seed)
    v, t, best_test = val[order], test[order], np.sort(test)
    p = float(test.mean())
    rows = []
    for n in ns:
        w = best_of_subset_weights(len(val), n)
        v_band, t_band = weighted_quantile(v, w, BAND), weighted_quantile(t, w, BAND)
        rows.append({"n": n, "val_acc": float(w @ v), "test_acc": float(w @ t),
                     "val_acc_low": float(v_band[0]), "val_acc_high": float(v_band[1]),
                     "test_acc_low": float(t_band[0]), "test_acc_high": float(t_band[1]),
                     "best_test_acc": float(w @ best_test),
                     "expected_max_pool": expected_max_empirical(val, n),
                     "expected_max_noise": expected_max_binomial(n_val, p, n)})
    return rows


def model_selection(cfg: ModelSelectionConfig, ctx: RunContext) -> dict[str, Any]:
    split = load_split(cfg, ctx.device)
    pool = fit_pool(cfg, ctx, split)
    val, test = pool["val_acc"], pool["test_acc"]
    n_val = len(split["val"][1])
    table = selection_table(val, test, cfg.sizes_n, n_val, cfg.seed)
    chosen = int(validation_ranking(val, cfg.seed)[-1])
    p = float(test.mean())
    offset = float(val.mean()) - p  # how much easier this validation set is than the test set, for every model
    summary = {
        "val_acc": float(val[chosen]), "test_acc": float(test[chosen]), "optimism": float(val[chosen] - test[chosen]),
        "val_set_offset": offset, "selection_optimism": float(val[chosen] - test[chosen]) - offset,
        "models_compared": cfg.models, "train_size": len(split["train"][1]), "val_size": n_val,
        "test_size": len(split["test"][1]), "chosen_features": int(pool["k"][chosen]),
        "chosen_lambda": float(pool["lam"][chosen]), "chosen_test_rank": int((test > test[chosen]).sum() + 1),
        "pool_best_test_acc": float(test.max()), "pool_mean_test_acc": p, "pool_mean_val_acc": float(val.mean()),
        "noise_optimism": table[-1]["expected_max_noise"] - p,
        "by_n": [{k: (round(x, 5) if isinstance(x, float) else x) for k, x in row.items()} for row in table],
    }
    if ctx.progress:
        print(f"model-selection: best of {cfg.models} by validation: val {summary['val_acc']:.4f}, test "
              f"{summary['test_acc']:.4f} (rank {summary['chosen_test_rank']} by test)", file=sys.stderr, flush=True)
    _selection_figure(ctx, table, p, n_val)
    _pool_figure(ctx, pool, chosen, n_val, summary["test_size"])
    return summary


# ---- figures --------------------------------------------------------------------------------

def _selection_figure(ctx: RunContext, table: list[dict[str, Any]], p: float, n_val: int) -> None:
    ns = [r["n"] for r in table]
    col = {key: np.array([r[key] for r in table]) for key in table[0]}
    fig, axes = new_figure(ncols=2, size=(5.2, 4.2))
    ax = axes[0][0]
    for i, split in enumerate(("val", "test")):
        ax.plot(ns, col[f"{split}_acc"], marker="o", markersize=4, color=f"C{i}",
                label=f"chosen model: {'validation' if split == 'val' else 'test'} accuracy")
        ax.fill_between(ns, col[f"{split}_acc_low"], col[f"{split}_acc_high"], color=f"C{i}", alpha=0.2)
    ax.plot(ns, col["best_test_acc"], color="C2", linestyle=":", label="best test accuracy among the N")
    ax.plot(ns, col["expected_max_pool"], color="C0", linestyle="-.", linewidth=1,
            label="E[max of N pool validation scores]")
    ax.plot(ns, col["expected_max_noise"], color="k", linestyle="--", linewidth=1,
            label=f"E[max of N] if all had accuracy p (Binomial({n_val}, p))")
    ax.axhline(p, color="0.5", linestyle=":", linewidth=1, label=f"p = pool's mean test accuracy {p:.3f}")
    ax.set_xscale("log")
    ax.set_xlabel("models compared N (best by validation accuracy)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"the best of N on {n_val} validation images (bands: 10–90 %)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax = axes[0][1]
    ax.plot(ns, col["val_acc"] - col["test_acc"], marker="o", markersize=4, color="C3",
            label="measured: chosen model's validation − test")
    ax.plot(ns, col["expected_max_noise"] - p, color="k", linestyle="--", label="pure noise: E[max of N] − p")
    ax.axhline(0, color="0.5", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("models compared N")
    ax.set_ylabel("optimism (accuracy)")
    ax.set_title("how much the validation score flatters the chosen model", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "selection")


def _pool_figure(ctx: RunContext, pool: dict[str, np.ndarray], chosen: int, n_val: int, n_test: int) -> None:
    val, test = pool["val_acc"], pool["test_acc"]
    p = float(test.mean())
    fig, axes = new_figure(ncols=2, size=(4.8, 4.2))
    ax = axes[0][0]
    points = ax.scatter(test, val, c=np.log2(pool["k"]), s=6, cmap="viridis", alpha=0.7)
    fig.colorbar(points, ax=ax, label="log₂ features k")
    lo, hi = min(val.min(), test.min()), max(val.max(), test.max())
    ax.plot([lo, hi], [lo, hi], color="0.5", linewidth=1, label="validation = test")
    ax.scatter([test[chosen]], [val[chosen]], marker="*", s=160, color="C3", label="chosen (best validation)")
    best = int(np.argmax(test))
    ax.scatter([test[best]], [val[best]], marker="P", s=90, color="C2", label="best on test")
    ax.set_xlabel("test accuracy (10,000 images: ≈ the true accuracy)")
    ax.set_ylabel("validation accuracy")
    ax.set_title(f"the pool of {len(val):,} models", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[0][1]
    gap = val - test
    ax.hist(gap, bins=40, color="C0", alpha=0.6, label=f"the pool's models (sd {gap.std():.3f})")
    ax.axvline(gap.mean(), color="k", linewidth=1, label=f"mean {gap.mean():+.3f}: this validation set's offset")
    ax.axvline(gap[chosen], color="C3", linestyle="--", label=f"chosen model {gap[chosen]:+.3f}")
    sd = math.sqrt(p * (1 - p) * (1 / n_val + 1 / n_test))
    ax.axvspan(gap.mean() - sd, gap.mean() + sd, color="0.5", alpha=0.15, zorder=0,
               label=f"± {sd:.3f}: one model's binomial noise")
    ax.set_xlabel("validation − test accuracy of each model")
    ax.set_ylabel("models")
    ax.set_title(f"each model's luck on the {n_val} validation images", fontsize=10)
    ax.legend(fontsize=7)
    ctx.save_figure(fig, "pool")


EXPERIMENTS = [
    Experiment("model-selection", "guide",
               "best of N = 1 … 1,000 random-features models by a 300-image validation score: the chosen "
               "model's validation vs test accuracy and the expected maximum of N noisy scores",
               ModelSelectionConfig, model_selection, headline=("optimism", "val_acc", "test_acc")),
]
