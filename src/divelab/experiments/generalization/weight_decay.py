"""``weight-decay``: the book's 200-feature linear regression with 20 training samples,
trained for a list of λ twice: with the scratch penalty ``λ·l2_penalty(w)`` in the loss and
with ``torch.optim.SGD(weight_decay=λ)``; the two take the same steps. The default run took
20 s of training on a busy 2-core machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from divelab.config import show
from divelab.data import TensorLoader
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.experiments.generalization.common import EVAL_BATCH, rounded
from divelab.experiments.generalization.high_dim import (HighDimConfig, high_dim_data, initial_weights, lambda_axis,
                                                         train_setup, weight_decay_library, weight_decay_scratch)
from divelab.report.figures import new_figure


@dataclass
class WeightDecayConfig(HighDimConfig):
    """λ = 0 must be among ``lambdas``: it is the baseline. Each λ is trained twice (16 runs)."""

    def validate(self) -> None:
        super().validate()
        if 0.0 not in self.lambdas:
            raise UserError(f"lambdas must include 0, the baseline without weight decay; got {show(self.lambdas)}")


def weight_decay(cfg: WeightDecayConfig, ctx: RunContext) -> dict[str, Any]:
    """Every λ trained twice from the same initial weights and batches: scratch penalty, library option.

    The best λ is picked by test loss here, to show the effect; ``kfold`` picks it properly,
    without looking at the test set.
    """
    X, y, X_test, y_test = high_dim_data(cfg)
    test = TensorLoader(X_test, y_test, batch_size=EVAL_BATCH, device=ctx.device)
    w0, b0 = (t.to(ctx.device) for t in initial_weights(cfg))
    lambdas = list(cfg.lambdas)
    results: dict[str, list[float]] = {key: [] for key in
                                       ("train_loss_scratch", "test_loss_scratch", "train_loss_library",
                                        "test_loss_library", "weight_norm_scratch")}
    weight_diffs = []
    for lam in lambdas:
        scratch = weight_decay_scratch(w0, b0, lam, cfg.lr)
        library = weight_decay_library(w0, b0, lam, cfg.lr)
        for kind, setup in (("scratch", scratch), ("library", library)):
            final = train_setup(ctx, cfg, setup, f"{kind}-lambda-{lam:g}", X, y, test)
            results[f"train_loss_{kind}"].append(final["train_loss"])
            results[f"test_loss_{kind}"].append(final["test_loss"])
        results["weight_norm_scratch"].append(scratch.weight.detach().norm().item())
        weight_diffs.append((scratch.weight.detach() - library.weight.detach()).abs().max().item())
    test_losses = results["test_loss_scratch"]
    best = int(np.argmin(test_losses))
    no_decay = test_losses[lambdas.index(0.0)]
    _weight_decay_figure(ctx, lambdas, results, true_norm=0.01 * math.sqrt(cfg.num_inputs))
    return {"lambdas": lambdas, **{key: rounded(np.array(values)) for key, values in results.items()},
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
    lambda_axis(ax, lambdas)
    ax.legend(fontsize=8)
    ax = axes[0][1]
    ax.plot(lambdas, results["weight_norm_scratch"], marker="o", color="C2")
    ax.axhline(true_norm, color="k", linestyle=":", label="‖true w‖")
    ax.set_yscale("log")
    ax.set_ylabel("‖w‖ after training")
    ax.set_title("weight decay shrinks the weights")
    lambda_axis(ax, lambdas)
    ax.legend(fontsize=8)
    ctx.save_figure(fig, "lambda")


EXPERIMENTS = [
    Experiment("weight-decay", "generalization",
               "200-feature / 20-sample linear regression: test loss vs λ, scratch L2 penalty vs SGD weight_decay",
               WeightDecayConfig, weight_decay,
               headline=("no_decay_test_loss", "best_test_loss", "best_lambda", "max_scratch_library_diff")),
]
