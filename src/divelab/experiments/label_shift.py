"""Label shift on Fashion-MNIST (experiment ``label-shift``): black-box shift estimation (BBSE)
and re-weighted predictions.

An MLP is trained on the balanced training set (class prior ``p(y)``); target sets are drawn
from the test set with class proportions ``q ~ Dirichlet(α)`` (``p(x|y)`` fixed). BBSE gives
``q̂`` from the validation confusion matrix ``C_ij = P_source(ŷ = i, y = j)`` and the mean
target prediction ``μ_i = P_target(ŷ = i)``: solve ``C ŵ = μ`` for ``ŵ = q̂/p``, then
``q̂ = ŵ ⊙ p`` (:func:`divelab.analysis.shift.estimate_label_shift`). Re-weighting the
predictions, ``p_t(y|x) ∝ ŵ_y p_s(y|x)``, raises target accuracy. ``trials`` draws of ``q``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.analysis import shift as estimators
from divelab.config import FashionConfig, setting
from divelab.data import TensorLoader, fashion_mnist, split
from divelab.data import shift as shifts
from divelab.experiment import Experiment, RunContext
from divelab.experiments.shift_common import EVAL_BATCH, NUM_CLASSES, mean_std, predict_proba
from divelab.models import MLP
from divelab.report.figures import new_figure


@dataclass
class LabelShiftConfig(FashionConfig):
    """The course's MLP (784-256-10), SGD with ``lr`` for ``epochs`` epochs on the training set
    less a ``val_fraction`` held out for the confusion matrix. ``trials`` target sets of
    ``target_size`` test images each, with class proportions ``q ~ Dirichlet(alpha)``;
    ``max_condition`` is BBSE's switch to non-negative least squares. A default run took 24 s
    (17 s training) on two shared cores.
    """

    epochs: int = 10
    val_fraction: float = setting(1 / 6, gt=0, lt=1)
    trials: int = setting(20, ge=1)
    target_size: int = setting(2000, ge=1)
    alpha: float = setting(0.5, gt=0)
    max_condition: float = setting(1e3, ge=1)


def _label_trial(probs: Tensor, labels: Tensor, confusion: Tensor, cfg: LabelShiftConfig,
                 generator: torch.Generator) -> dict[str, Any]:
    """One target set drawn from the test predictions with ``q ~ Dirichlet(α)``: BBSE's estimate,
    the naive one (the mean prediction), and accuracy before and after re-weighting."""
    q_drawn = shifts.dirichlet_prior(NUM_CLASSES, cfg.alpha, generator)
    pick = shifts.resample_to_prior(labels, q_drawn, cfg.target_size, generator)
    p_target, y_target = probs[pick], labels[pick]
    q = torch.bincount(y_target, minlength=NUM_CLASSES).double() / len(y_target)  # the proportions drawn
    mu = estimators.mean_prediction(p_target.argmax(-1), NUM_CLASSES)
    estimate = estimators.estimate_label_shift(confusion, mu, cfg.max_condition)
    p_source = confusion.sum(0)
    true_w = torch.where(p_source > 0, q / p_source.clamp_min(1e-12), torch.zeros_like(q))

    def acc(p: Tensor) -> float:
        return (p.argmax(-1) == y_target).double().mean().item()

    return {"q": q.tolist(), "q_estimated": estimate.q.tolist(), "q_naive": mu.tolist(), "method": estimate.method,
            "error": torch.linalg.vector_norm(estimate.q - q).item(),
            "error_naive": torch.linalg.vector_norm(mu - q).item(),
            "acc_before": acc(p_target), "acc_after": acc(estimators.reweight_predictions(p_target, estimate.w)),
            "acc_true_weights": acc(estimators.reweight_predictions(p_target, true_w))}


def label_shift(cfg: LabelShiftConfig, ctx: RunContext) -> dict[str, Any]:
    """One model, ``trials`` target sets: BBSE error (and the naive one), accuracy before and after."""
    data = fashion_mnist.load(cfg.data_dir)
    images = fashion_mnist.to_float(data.train_images)
    val_size = max(1, round(cfg.val_fraction * len(images)))
    (x_train, y_train), (x_val, y_val) = split(images, data.train_labels, val_size=val_size, seed=cfg.seed)
    x_test = fashion_mnist.to_float(data.test_images)
    train = TensorLoader(x_train, y_train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, device=ctx.device)
    val = TensorLoader(x_val, y_val, batch_size=EVAL_BATCH, device=ctx.device)
    test = TensorLoader(x_test, data.test_labels, batch_size=EVAL_BATCH, device=ctx.device)
    model = MLP(784, [256], NUM_CLASSES).to(ctx.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    ctx.fit(ctx.trainer(model, F.cross_entropy, optimizer, train, test, val_loader=val))

    confusion = estimators.confusion_matrix(predict_proba(model, x_val, ctx.device).argmax(-1), y_val, NUM_CLASSES)
    probs = predict_proba(model, x_test, ctx.device).double()
    generator = torch.Generator().manual_seed(cfg.seed)
    trials = [_label_trial(probs, data.test_labels, confusion, cfg, generator) for _ in range(cfg.trials)]
    summary: dict[str, Any] = {"source_prior": confusion.sum(0).tolist(),
                               "confusion_condition": float(torch.linalg.cond(confusion)),
                               "nnls_trials": sum(t["method"] == "nnls" for t in trials),
                               "balanced_test_acc": (probs.argmax(-1) == data.test_labels).double().mean().item()}
    for key in ("error", "error_naive", "acc_before", "acc_after", "acc_true_weights"):
        summary[key], summary[f"{key}_std"] = mean_std([t[key] for t in trials])
    summary["acc_gain"] = summary["acc_after"] - summary["acc_before"]
    _label_figure(ctx, cfg, trials, confusion.sum(0))
    return summary | {"trials": trials}


def _label_figure(ctx: RunContext, cfg: LabelShiftConfig, trials: list[dict[str, Any]], p: Tensor) -> None:
    """The first trial's true and estimated q(y); per trial the estimation errors and accuracies."""
    fig, axes = new_figure(ncols=3, size=(4.8, 3.7))
    prior_ax, error_ax, acc_ax = axes[0]
    first = trials[0]
    width = 0.2
    for i, (values, label) in enumerate(((p.tolist(), "source p(y)"), (first["q"], "true q(y)"),
                                         (first["q_estimated"], "BBSE q̂(y)"), (first["q_naive"], "mean prediction"))):
        prior_ax.bar([c + (i - 1.5) * width for c in range(NUM_CLASSES)], values, width=width, label=label)
    prior_ax.set_xticks(range(NUM_CLASSES), fashion_mnist.CLASS_NAMES, rotation=60, fontsize=7)
    prior_ax.set(ylabel="probability", title=f"target 1: ‖q̂ − q‖ = {first['error']:.3f} "
                                             f"(naive {first['error_naive']:.3f})")
    index = range(1, len(trials) + 1)
    error_ax.plot(index, [t["error"] for t in trials], marker="o", label="BBSE")
    error_ax.plot(index, [t["error_naive"] for t in trials], marker="s", label="mean prediction")
    error_ax.set(xlabel="target set (q ~ Dirichlet)", ylabel="‖q̂ − q‖₂", title="error of the estimated q(y)")
    for key, label, marker in (("acc_before", "before", "o"), ("acc_after", "re-weighted by BBSE ŵ", "s"),
                               ("acc_true_weights", "re-weighted by true w", "x")):
        acc_ax.plot(index, [t[key] for t in trials], marker=marker, linestyle="", label=label)
    acc_ax.set(xlabel="target set", ylabel="accuracy", title=f"target accuracy (α = {cfg.alpha:g})")
    for ax in (prior_ax, error_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "label-shift")


EXPERIMENTS = [
    Experiment("label-shift", "shift",
               "MLP on Dirichlet-skewed test sets: black-box shift estimation of q(y) and re-weighted predictions",
               LabelShiftConfig, label_shift,
               headline=("error", "error_naive", "acc_before", "acc_after")),
]
