"""Covariate shift on Fashion-MNIST (experiment ``covariate-shift``): detected by a domain
classifier and corrected by importance weighting.

A pool of images, half turned into photographic negatives, is split into a source and a target
domain by ``P(target | x) = σ(k (b(x) − c))`` on the mean brightness ``b(x)``
(:func:`divelab.data.shift.covariate_shift`; ``p(y|x)`` is unchanged because the selection
looks at ``x`` alone). The source holds mostly originals, the target mostly negatives. A
softmax regression cannot fit both at once (for a negative ``1 − x`` the scores are
``W·1 − W x + b``: the image's contribution flips sign), so one trained on the source does
badly on the target. A scratch logistic regression (the domain classifier, on 2×2-pooled
pixels: the true log-odds, linear in ``b(x)``, is linear in them) tells source from unlabelled
target images; its odds give importance weights ``β(x) = p_target(x) / p_source(x)``, clipped,
and the model is trained again with the weighted loss. For reference: weights from the true
selection (``σ(k(b − c))`` is known here) and a model trained on labelled target images (the
ceiling). Repeated for ``seeds`` seeds (split, domain classifier, models): mean ± std.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.analysis import shift as estimators
from divelab.config import FashionConfig, setting
from divelab.data import TensorLoader, fashion_mnist
from divelab.data import shift as shifts
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.experiments.shift_common import EVAL_BATCH, mean_std, predict_proba
from divelab.models import SoftmaxRegression
from divelab.report.figures import new_figure
from divelab.scratch.logistic import fit_logistic
from divelab.train.callbacks import Callback


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, device: torch.device) -> float:
    """Fraction of ``images`` that ``model`` classifies as ``labels``."""
    return (predict_proba(model, images, device).argmax(-1) == labels.cpu()).double().mean().item()


def _announce(ctx: RunContext, name: str, **numbers: float) -> None:
    """One progress line ``name: key value …`` on stderr, unless the run is quiet."""
    if ctx.progress:
        print(f"{name}: " + "  ".join(f"{k} {v:.4g}" for k, v in numbers.items()), file=sys.stderr, flush=True)


class AccuracyOn(Callback):
    """Adds ``NAME_acc`` to each epoch's record for every ``NAME: (images, labels)`` given."""

    def __init__(self, sets: dict[str, tuple[Tensor, Tensor]], device: torch.device):
        self.sets, self.device = sets, device

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        for name, (images, labels) in self.sets.items():
            record[f"{name}_acc"] = accuracy(trainer.model, images, labels, self.device)


@dataclass
class CovariateShiftConfig(FashionConfig):
    """Softmax regression, SGD with momentum 0.9 and learning rate ``lr`` annealed to 0 (cosine)
    over ``epochs`` epochs on at most ``max_source`` source images (0: all), four times per seed
    (without annealing, the weighted runs' target accuracy jumped by ±15 points from epoch to
    epoch: a few samples carry weights up to ``max_weight``). Selection ``σ(slope (b − center))``; importance
    weights clipped at ``max_weight`` (then scaled to mean 1); the domain classifier's L2
    penalty ``domain_l2``. A default run (5 seeds × 4 models of 8 epochs on 20,000 images) took
    85 s of wall time (46 s of it training) with OMP_NUM_THREADS=1 on two cores shared with other jobs.
    """

    epochs: int = 8
    lr: float = 0.01
    seeds: int = setting(5, ge=1)
    slope: float = setting(10.0, ge=0, note="0: no shift")
    center: float = setting(0.5, gt=0, lt=1)
    max_source: int = setting(20000, ge=0, note="0: every source image")
    max_weight: float = setting(20.0, gt=0)
    domain_l2: float = setting(1e-3, gt=0)

    def resumable(self) -> tuple[str, ...]:
        # the cosine schedule is planned over the whole run: more epochs would change its shape
        return tuple(c for c in super().resumable() if c != "epochs")


def weighted_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """``mean_i w_i ℓ(logits_i, y_i)`` for ``target`` (B, 2) holding ``(y_i, w_i)`` per row.

    The trainer hands the loss one target tensor per batch, so each sample's weight travels
    as a second column beside its (float-coded) class index.
    """
    labels, weights = target[:, 0].long(), target[:, 1]
    return (F.cross_entropy(logits, labels, reduction="none") * weights).mean()


def pooled_features(images: Tensor) -> Tensor:
    """2×2 average-pooled pixels of float images (N, 1, 28, 28) → (N, 196), float64: the domain
    classifier's inputs (their mean is the image's brightness, so the true log-odds is linear in them)."""
    return F.avg_pool2d(images, 2).flatten(1).to(torch.float64)


@dataclass
class Domains:
    """One seed's split: source images, labels and true log-odds; unlabelled target images;
    labelled target and source test images (from the test split)."""

    source_x: Tensor
    source_y: Tensor
    source_logit: Tensor
    target_x: Tensor
    target_y: Tensor  # used only by the reference model trained on the target
    test_target_x: Tensor
    test_target_y: Tensor
    test_source_x: Tensor
    test_source_y: Tensor
    test_logit: Tensor
    test_is_target: Tensor
    source_negatives: float  # fraction of negatives among the source images
    target_negatives: float


def _cap(indices: Tensor, limit: int, generator: torch.Generator) -> Tensor:
    """At most ``limit`` of ``indices`` (0: all), chosen at random."""
    if limit and len(indices) > limit:
        return indices[torch.randperm(len(indices), generator=generator)[:limit]]
    return indices


def make_domains(data: fashion_mnist.FashionMNIST, cfg: CovariateShiftConfig, seed: int) -> Domains:
    """Split the training set into source and (unlabelled) target, the test set likewise."""
    generator = torch.Generator().manual_seed(seed)
    kwargs = {"slope": cfg.slope, "center": cfg.center, "generator": generator}
    train = shifts.covariate_shift(data.train_images, **kwargs)
    test = shifts.covariate_shift(data.test_images, **kwargs)
    source = _cap(torch.nonzero(~train.target).flatten(), cfg.max_source, generator)
    target = _cap(torch.nonzero(train.target).flatten(), cfg.max_source, generator)
    if len(source) < 2 or len(target) < 2 or test.target.all() or not test.target.any():
        raise UserError("the selection left a domain (almost) empty; use a smaller slope or a center nearer 0.5")
    images, test_images = fashion_mnist.to_float(train.images), fashion_mnist.to_float(test.images)
    return Domains(
        source_x=images[source], source_y=data.train_labels[source],
        source_logit=shifts.target_logit(train.images[source], cfg.slope, cfg.center),
        target_x=images[target], target_y=data.train_labels[target],
        test_target_x=test_images[test.target], test_target_y=data.test_labels[test.target],
        test_source_x=test_images[~test.target], test_source_y=data.test_labels[~test.target],
        test_logit=shifts.target_logit(test.images, cfg.slope, cfg.center), test_is_target=test.target,
        source_negatives=train.negated[source].double().mean().item(),
        target_negatives=train.negated[target].double().mean().item(),
    )


def domain_classifier(domains: Domains, cfg: CovariateShiftConfig) -> dict[str, Any]:
    """Fit the scratch logistic regression source (0) vs target (1); its importance weights on
    the source and its quality: AUC on the held-out test split (and the true selection's AUC),
    correlation of its log β with the true log β on the source."""
    source, target = pooled_features(domains.source_x), pooled_features(domains.target_x)
    x = torch.cat([source, target])
    y = torch.cat([torch.zeros(len(source)), torch.ones(len(target))])
    fit = fit_logistic(x, y, l2=cfg.domain_l2)
    n_s, n_t = len(source), len(target)
    logit = fit.logit(source)
    estimated = estimators.importance_weights(logit, n_s, n_t)
    true = estimators.importance_weights(domains.source_logit, n_s, n_t)
    test_x = pooled_features(torch.cat([domains.test_source_x, domains.test_target_x]))
    # the test images in domain order (source first), as in test_x
    test_truth = torch.cat([torch.zeros(len(domains.test_source_x)), torch.ones(len(domains.test_target_x))])
    true_test_logit = torch.cat([domains.test_logit[~domains.test_is_target], domains.test_logit[domains.test_is_target]])
    log_est, log_true = estimated.log(), true.log()
    corr = torch.corrcoef(torch.stack([log_est, log_true]))[0, 1].item()
    return {"estimated": estimated, "true": true, "iterations": fit.iterations,
            "domain_auc": estimators.roc_auc(fit.logit(test_x), test_truth),
            "domain_auc_true": estimators.roc_auc(true_test_logit, test_truth),
            "log_weight_corr": corr}


def _train_linear(ctx: RunContext, cfg: CovariateShiftConfig, name: str, x: Tensor, y: Tensor,
                  weights: Tensor, domains: Domains, seed: int) -> nn.Module:
    """Softmax regression trained with the weighted loss (weights scaled to mean 1) as sub-run ``name``."""
    weights = weights / weights.mean()
    target = torch.stack([y.to(torch.float64), weights.to(torch.float64)], 1).to(torch.float32)
    loader = TensorLoader(x, target, batch_size=cfg.batch_size, shuffle=True, seed=seed, device=ctx.device)
    test_target = torch.stack([domains.test_target_y.float(), torch.ones(len(domains.test_target_y))], 1)
    test = TensorLoader(domains.test_target_x, test_target, batch_size=EVAL_BATCH, device=ctx.device)
    torch.manual_seed(seed)  # every model of a seed starts from the same weights
    model = SoftmaxRegression().to(ctx.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    # annealed to 0: with weights up to max_weight the last steps are noisy, and the model is
    # judged by its final weights
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * len(loader))
    callback = AccuracyOn({"target": (domains.test_target_x, domains.test_target_y),
                           "source": (domains.test_source_x, domains.test_source_y)}, ctx.device)
    trainer = ctx.trainer(model, weighted_cross_entropy, optimizer, loader, test, name=name,
                          classification=False, callbacks=[callback], scheduler=schedule)
    trainer.progress.enabled = False
    ctx.fit(trainer, curves=False)
    return model


def _one_seed(ctx: RunContext, cfg: CovariateShiftConfig, data: fashion_mnist.FashionMNIST,
              seed: int) -> tuple[dict[str, Any], Domains, dict[str, Any]]:
    domains = make_domains(data, cfg, seed)
    dc = domain_classifier(domains, cfg)
    clipped = dc["estimated"].clamp(max=cfg.max_weight)
    runs = {"plain": (domains.source_x, domains.source_y, torch.ones(len(domains.source_y))),
            "weighted": (domains.source_x, domains.source_y, clipped),
            "true_weights": (domains.source_x, domains.source_y, dc["true"].clamp(max=cfg.max_weight)),
            "target_trained": (domains.target_x, domains.target_y, torch.ones(len(domains.target_y)))}
    row: dict[str, Any] = {"seed": seed, "source_size": len(domains.source_y), "target_size": len(domains.target_y),
                           "source_negatives": domains.source_negatives, "target_negatives": domains.target_negatives}
    for name, (x, y, w) in runs.items():
        model = _train_linear(ctx, cfg, f"seed{seed}-{name}", x, y, w, domains, seed)
        row[f"target_acc_{name}"] = accuracy(model, domains.test_target_x, domains.test_target_y, ctx.device)
        row[f"source_acc_{name}"] = accuracy(model, domains.test_source_x, domains.test_source_y, ctx.device)
    row |= {key: dc[key] for key in ("domain_auc", "domain_auc_true", "log_weight_corr", "iterations")}
    row["clipped_fraction"] = (dc["estimated"] > cfg.max_weight).double().mean().item()
    row["ess_fraction"] = estimators.effective_sample_size(clipped) / len(clipped)
    _announce(ctx, f"seed {seed}", **{k: v for k, v in row.items() if k.startswith("target_acc")},
              domain_auc=row["domain_auc"])
    return row, domains, dc


def covariate_shift(cfg: CovariateShiftConfig, ctx: RunContext) -> dict[str, Any]:
    """Per seed a new split, domain classifier and four models; every number as mean and ``_std``."""
    data = fashion_mnist.load(cfg.data_dir)
    rows, first = [], None
    for i in range(cfg.seeds):
        row, domains, dc = _one_seed(ctx, cfg, data, cfg.seed + i)
        rows.append(row)
        first = first or (domains, dc)
    assert first is not None
    summary: dict[str, Any] = {"rows": rows}
    for key in rows[0]:
        if key not in ("seed", "iterations"):
            summary[key], summary[f"{key}_std"] = mean_std([r[key] for r in rows])
    _covariate_figures(ctx, cfg, rows, *first)
    return summary


def _domains_figure(ctx: RunContext, domains: Domains, n: int = 8) -> None:
    """The first ``n`` source and target images, one row (one axes: fast to lay out) per domain."""
    fig, axes = new_figure(nrows=2, size=(1.1 * n, 1.5))
    rows = (("source", domains.source_x, domains.source_y), ("target (unlabelled)", domains.target_x, domains.target_y))
    for ax, (title, images, labels) in zip(axes[:, 0], rows):
        images = images[:n].squeeze(1)
        k, h, w = images.shape
        strip = torch.full((h, k * (w + 2) - 2), float("nan"))  # NaN: a blank gap between images
        for i, image in enumerate(images):
            strip[:, i * (w + 2):i * (w + 2) + w] = image
        ax.imshow(strip.numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([i * (w + 2) + w / 2 - 0.5 for i in range(k)],
                      [fashion_mnist.CLASS_NAMES[int(y)] for y in labels[:n]], fontsize=7)
        ax.set_yticks([])
        ax.tick_params(length=0)
    ctx.save_figure(fig, "domains")


def _covariate_figures(ctx: RunContext, cfg: CovariateShiftConfig, rows: list[dict[str, Any]], domains: Domains,
                       dc: dict[str, Any]) -> None:
    """Example images of both domains; weights, their agreement with the truth, accuracies."""
    _domains_figure(ctx, domains)
    fig, axes = new_figure(ncols=3, size=(4.6, 3.7))
    hist_ax, scatter_ax, bar_ax = axes[0]
    log_est, log_true = dc["estimated"].log10(), dc["true"].log10()
    bins = torch.linspace(float(min(log_est.min(), log_true.min())), float(max(log_est.max(), log_true.max())), 60)
    hist_ax.hist(log_true.numpy(), bins=bins.numpy(), alpha=0.5, label="true β")
    hist_ax.hist(log_est.numpy(), bins=bins.numpy(), alpha=0.5, label="estimated β̂")
    hist_ax.axvline(torch.tensor(cfg.max_weight).log10().item(), color="k", linestyle="--", label="clip")
    hist_ax.set(xlabel="log₁₀ β on the source images", ylabel="images", yscale="log",
                title=f"importance weights (seed {rows[0]['seed']})")
    show = torch.randperm(len(log_est), generator=torch.Generator().manual_seed(0))[:3000]
    scatter_ax.scatter(log_true[show].numpy(), log_est[show].numpy(), s=3, alpha=0.4)
    lo, hi = float(log_true.min()), float(log_true.max())
    scatter_ax.plot([lo, hi], [lo, hi], color="k", linewidth=1, label="β̂ = β")
    scatter_ax.set(xlabel="log₁₀ true β", ylabel="log₁₀ estimated β̂",
                   title=f"domain classifier: AUC {rows[0]['domain_auc']:.3f} "
                         f"(truth {rows[0]['domain_auc_true']:.3f})")
    names = ("plain", "weighted", "true_weights", "target_trained")
    labels = ("source\nunweighted", "source\nweights β̂", "source\ntrue β", "trained on\ntarget")
    for offset, domain, color in ((-0.2, "target", "C3"), (0.2, "source", "C0")):
        stats = [mean_std([r[f"{domain}_acc_{name}"] for r in rows]) for name in names]
        bar_ax.bar([i + offset for i in range(len(names))], [m for m, _ in stats], width=0.4, color=color,
                   yerr=[s for _, s in stats], capsize=3, label=f"{domain} test images")
    bar_ax.set_xticks(range(len(names)), labels, fontsize=8)
    bar_ax.set(ylabel="accuracy", ylim=(0, 1), title=f"softmax regression, mean ± std over {len(rows)} seeds")
    for ax in (hist_ax, scatter_ax, bar_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "covariate-shift")


EXPERIMENTS = [
    Experiment("covariate-shift", "shift",
               "softmax regression across a brightness-selected domain split (negatives): importance weights "
               "from a scratch logistic domain classifier, target accuracy over seeds",
               CovariateShiftConfig, covariate_shift,
               headline=("target_acc_plain", "target_acc_weighted", "target_acc_true_weights", "domain_auc")),
]
