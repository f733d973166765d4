"""``kfold``: λ for the ``weight-decay`` problem chosen by K-fold cross-validation on the
training samples (scratch fold indices, checked equal to scikit-learn's ``KFold``), then
retrained on all of them and tested. The default run took 43 s of training on a busy 2-core
machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import Tensor

from divelab.data import TensorLoader
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.experiments.generalization.common import EVAL_BATCH, rounded
from divelab.experiments.generalization.high_dim import (HighDimConfig, high_dim_data, initial_weights, lambda_axis,
                                                         train_setup, weight_decay_scratch)
from divelab.report.figures import new_figure
from divelab.scratch.kfold import kfold_indices


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
    X, y, X_test, y_test = high_dim_data(cfg)
    test = TensorLoader(X_test, y_test, batch_size=EVAL_BATCH, device=ctx.device)
    w0, b0 = (t.to(ctx.device) for t in initial_weights(cfg))
    seed = cfg.seed if cfg.shuffle else None
    folds = kfold_indices(cfg.num_train, cfg.folds, shuffle=cfg.shuffle, seed=seed)
    lambdas = list(cfg.lambdas)
    scores = np.zeros((len(lambdas), cfg.folds))  # validation loss of each candidate on each fold
    for i, lam in enumerate(lambdas):
        for j, (train_idx, val_idx) in enumerate(folds):
            val = TensorLoader(X[val_idx], y[val_idx], batch_size=EVAL_BATCH, device=ctx.device)
            setup = weight_decay_scratch(w0, b0, lam, cfg.lr)
            scores[i, j] = train_setup(ctx, cfg, setup, f"lambda-{lam:g}-fold-{j + 1}", X[train_idx], y[train_idx],
                                        val, "val")["val_loss"]
    mean, std = scores.mean(axis=1), scores.std(axis=1, ddof=1)
    chosen = int(np.argmin(mean))
    final = train_setup(ctx, cfg, weight_decay_scratch(w0, b0, lambdas[chosen], cfg.lr), "final", X, y, test)
    match = folds_match_sklearn(folds, cfg.num_train, cfg.folds, cfg.shuffle, seed)
    _kfold_figure(ctx, lambdas, scores, chosen, cfg.folds)
    return {
        "folds_match_sklearn": match, "fold_sizes": [len(val) for _, val in folds], "lambdas": lambdas,
        "cv_val_loss_mean": rounded(mean), "cv_val_loss_std": rounded(std),
        **{f"fold_val_loss_lambda_{lam:g}": rounded(scores[i]) for i, lam in enumerate(lambdas)},
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
    lambda_axis(ax, lambdas)
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "cross-validation")


EXPERIMENTS = [
    Experiment("kfold", "generalization",
               "K-fold cross-validation chooses the weight decay λ; scratch folds equal scikit-learn's KFold",
               KFoldConfig, kfold, headline=("chosen_lambda", "cv_val_loss", "test_loss")),
]
