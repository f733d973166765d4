"""Environment and distribution shift: covariate, label and concept shift on Fashion-MNIST, detected and corrected.

- ``covariate-shift``: a pool of images, half turned into photographic negatives, is split into
  a source and a target domain by ``P(target | x) = σ(k (b(x) − c))`` on the mean brightness
  ``b(x)`` (:func:`divelab.data.shift.covariate_shift`; ``p(y|x)`` is unchanged because the
  selection looks at ``x`` alone). The source holds mostly originals, the target mostly
  negatives. A softmax regression cannot fit both at once (for a negative ``1 − x`` the scores
  are ``W·1 − W x + b``: the image's contribution flips sign), so one trained on the source
  does badly on the target. A scratch logistic
  regression (the domain classifier, on 2×2-pooled pixels: the true log-odds, linear in
  ``b(x)``, is linear in them) tells source from unlabelled target images; its odds give
  importance weights ``β(x) = p_target(x) / p_source(x)``, clipped, and the model is trained
  again with the weighted loss. For reference: weights from the true selection
  (``σ(k(b − c))`` is known here) and a model trained on labelled target images (the ceiling).
  Repeated for ``seeds`` seeds (split, domain classifier, models): mean ± std.
- ``label-shift``: an MLP trained on the balanced training set; target sets drawn from the test
  set with class proportions ``q ~ Dirichlet(α)`` (``p(x|y)`` fixed). Black-box shift
  estimation gives ``q̂`` from the validation confusion matrix and the mean target prediction;
  re-weighting the predictions by ``ŵ = q̂/p`` raises target accuracy. ``trials`` draws of ``q``.
- ``concept-shift``: the MLP labels a stream of test images; from ``drift_at`` on, the labelling
  rule swaps pairs of classes (``swap``). A Page–Hinkley test on the stream of errors raises an
  alarm; the next ``adapt_samples`` labelled images are collected and the model is fine-tuned
  on them. Reported: drift position, detection delay, accuracy before the drift, during
  (drift → adapted model deployed) and after, and the unadapted model's accuracy after.
"""

from __future__ import annotations

import copy
import statistics
import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.analysis import shift as estimators
from divelab.config import FashionConfig
from divelab.data import TensorLoader, fashion_mnist, split
from divelab.data import shift as shifts
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.models import MLP, SoftmaxRegression
from divelab.report.figures import new_figure
from divelab.scratch.logistic import fit_logistic
from divelab.train.callbacks import Callback

EVAL_BATCH = 2048
NUM_CLASSES = len(fashion_mnist.CLASS_NAMES)


# ---- helpers shared by the experiments ------------------------------------------------------

@torch.inference_mode()
def predict_proba(model: nn.Module, images: Tensor, device: torch.device) -> Tensor:
    """Softmax probabilities of ``model`` for float images (N, 1, 28, 28), in batches; (N, k) on the CPU."""
    model.eval()
    parts = [F.softmax(model(images[i:i + EVAL_BATCH].to(device)), -1).cpu()
             for i in range(0, len(images), EVAL_BATCH)]
    return torch.cat(parts) if parts else torch.zeros(0, NUM_CLASSES)


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, device: torch.device) -> float:
    """Fraction of ``images`` that ``model`` classifies as ``labels``."""
    return (predict_proba(model, images, device).argmax(-1) == labels.cpu()).double().mean().item()


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


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


def _check_fraction(name: str, value: float) -> None:
    if not 0 < value < 1:
        raise UserError(f"{name} must be between 0 and 1 (exclusive), got {value}")


# ---- covariate shift ----------------------------------------------------------------------------

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
    seeds: int = 5
    slope: float = 10.0
    center: float = 0.5
    max_source: int = 20000
    max_weight: float = 20.0
    domain_l2: float = 1e-3

    def validate(self) -> None:
        super().validate()
        if self.epochs < 1 or self.seeds < 1:
            raise UserError(f"epochs and seeds must be ≥ 1, got {self.epochs} and {self.seeds}")
        if self.slope < 0:
            raise UserError(f"slope must be ≥ 0 (0: no shift), got {self.slope}")
        _check_fraction("center", self.center)
        if self.max_source < 0:
            raise UserError(f"max_source must be ≥ 0 (0: every source image), got {self.max_source}")
        if not self.max_weight > 0 or not self.domain_l2 > 0:
            raise UserError(f"max_weight and domain_l2 must be > 0, got {self.max_weight} and {self.domain_l2}")

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


# ---- label shift --------------------------------------------------------------------------------

@dataclass
class LabelShiftConfig(FashionConfig):
    """The course's MLP (784-256-10), SGD with ``lr`` for ``epochs`` epochs on the training set
    less a ``val_fraction`` held out for the confusion matrix. ``trials`` target sets of
    ``target_size`` test images each, with class proportions ``q ~ Dirichlet(alpha)``;
    ``max_condition`` is BBSE's switch to non-negative least squares. A default run took 24 s
    (17 s training) on two shared cores.
    """

    epochs: int = 10
    val_fraction: float = 1 / 6
    trials: int = 20
    target_size: int = 2000
    alpha: float = 0.5
    max_condition: float = 1e3

    def validate(self) -> None:
        super().validate()
        _check_fraction("val_fraction", self.val_fraction)
        if self.trials < 1 or self.target_size < 1:
            raise UserError(f"trials and target_size must be ≥ 1, got {self.trials} and {self.target_size}")
        if not self.alpha > 0 or not self.max_condition >= 1:
            raise UserError(f"alpha must be > 0 and max_condition ≥ 1, got {self.alpha} and {self.max_condition}")


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


# ---- concept shift ------------------------------------------------------------------------------

def parse_pairs(text: str) -> list[tuple[int, int]]:
    """``"1:8, 5:9"`` → ``[(1, 8), (5, 9)]``: disjoint pairs of different classes 0–9."""
    try:
        pairs = [tuple(int(v) for v in part.split(":")) for part in text.split(",") if part.strip()]
    except ValueError:
        pairs = []
    if not pairs or any(len(pair) != 2 or not all(0 <= v < NUM_CLASSES for v in pair) for pair in pairs):
        raise UserError(f"swap must list pairs of classes 0–9 like 1:8,5:9; got {text!r}")
    flat = [v for pair in pairs for v in pair]
    if len(set(flat)) != len(flat):
        raise UserError(f"swap pairs must be disjoint pairs of two different classes, got {text!r}")
    return [(a, b) for a, b in pairs]


@dataclass
class ConceptShiftConfig(FashionConfig):
    """The MLP pretrained for ``epochs`` epochs, then a stream of ``stream_length`` test images
    (one permutation after another); from ``drift_at`` (a fraction of the stream) the classes in
    ``swap`` trade labels. Page–Hinkley on the 0/1 errors with ``delta`` and ``threshold``;
    after an alarm the next ``adapt_samples`` labelled images are collected and the model is
    fine-tuned on them for ``adapt_epochs`` epochs (SGD, ``lr``, batch 64). The figure smooths
    accuracy over ``window`` images. A default run took 18 s (12 s training) on two shared cores.
    """

    epochs: int = 5
    stream_length: int = 10000
    drift_at: float = 0.4
    swap: str = "1:8,5:9"
    delta: float = 0.05
    threshold: float = 20.0
    adapt_samples: int = 1000
    adapt_epochs: int = 10
    window: int = 200

    def validate(self) -> None:
        super().validate()
        _check_fraction("drift_at", self.drift_at)
        parse_pairs(self.swap)
        if self.stream_length < 2 or self.adapt_samples < 1 or self.adapt_epochs < 1:
            raise UserError(f"stream_length must be ≥ 2, adapt_samples and adapt_epochs ≥ 1; got "
                            f"{self.stream_length}, {self.adapt_samples}, {self.adapt_epochs}")
        if self.delta < 0 or not self.threshold > 0:
            raise UserError(f"delta must be ≥ 0 and threshold > 0, got {self.delta} and {self.threshold}")
        if not 1 <= self.window <= self.stream_length:
            raise UserError(f"window must be between 1 and stream_length ({self.stream_length}), got {self.window}")

    def resumable(self) -> tuple[str, ...]:
        # more pretraining would move the alarms, and the fine-tuned checkpoints would belong to another model
        return tuple(c for c in super().resumable() if c != "epochs")


@dataclass
class StreamResult:
    """What happened on the stream: per position whether the deployed model was right, the
    Page–Hinkley statistic, the alarms and the positions where an adapted model took over."""

    correct: Tensor
    statistic: Tensor
    alarms: list[int]
    deployed: list[int]


def _fine_tune(ctx: RunContext, cfg: ConceptShiftConfig, model: nn.Module, x: Tensor, y: Tensor,
               number: int) -> nn.Module:
    """A copy of ``model`` fine-tuned on the recent images ``x`` with their current labels ``y``
    (sub-run ``update{number}``)."""
    model = copy.deepcopy(model)
    loader = TensorLoader(x, y, batch_size=64, shuffle=True, seed=cfg.seed + number, device=ctx.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    # named to sort after "pretrain": a resumed run checks its epochs against the first checkpoint by name
    trainer = ctx.trainer(model, F.cross_entropy, optimizer, loader, epochs=cfg.adapt_epochs, name=f"update{number}")
    trainer.progress.enabled = False
    ctx.fit(trainer, curves=False)
    return model


def run_stream(ctx: RunContext, cfg: ConceptShiftConfig, model: nn.Module, x: Tensor, y: Tensor) -> StreamResult:
    """Deploy ``model`` on the stream ``(x, y)``, each label seen right after the prediction.

    The detector watches the errors; after an alarm the deployed model keeps predicting while
    the next ``adapt_samples`` labelled images are collected, then a fine-tuned copy takes
    over and the detector starts afresh.
    """
    detector = estimators.PageHinkley(cfg.delta, cfg.threshold)
    correct = torch.zeros(len(y), dtype=torch.bool)
    statistic = torch.zeros(len(y), dtype=torch.float64)
    alarms: list[int] = []
    deployed: list[int] = []
    position = 0
    while position < len(y):
        hits = predict_proba(model, x[position:], ctx.device).argmax(-1) == y[position:]
        correct[position:] = hits
        alarm = None
        for offset, hit in enumerate(hits.tolist()):
            fired = detector.update(0.0 if hit else 1.0)
            statistic[position + offset] = detector.statistic
            if fired:
                alarm = position + offset
                break
        if alarm is None:
            break
        alarms.append(alarm)
        start, end = alarm + 1, min(alarm + 1 + cfg.adapt_samples, len(y))
        if end - start < cfg.adapt_samples:
            break  # the stream ends before enough labelled images have come in
        model = _fine_tune(ctx, cfg, model, x[start:end], y[start:end], len(alarms))
        deployed.append(end)
        detector.reset()
        position = end
    return StreamResult(correct, statistic, alarms, deployed)


def _segment(correct: Tensor, start: int, end: int | None) -> float | None:
    """Accuracy over positions ``[start, end)``; None if empty."""
    part = correct[start:end]
    return part.double().mean().item() if len(part) else None


def concept_shift(cfg: ConceptShiftConfig, ctx: RunContext) -> dict[str, Any]:
    """Pretrain, then run the stream. ``detected_at`` is the first alarm at or after the drift,
    ``adapted_at`` where the model fine-tuned after it took over; accuracy ``before`` the drift,
    ``during`` (drift → adapted_at) and ``after``; ``acc_after_no_adaptation`` is the
    pretrained model's over the same stretch (from the drift on if nothing was adapted).
    Values that did not happen (no detection, no adaptation) are None."""
    pairs = parse_pairs(cfg.swap)
    data = fashion_mnist.load(cfg.data_dir)
    train = TensorLoader(fashion_mnist.to_float(data.train_images), data.train_labels, batch_size=cfg.batch_size,
                         shuffle=True, seed=cfg.seed, device=ctx.device)
    x_test = fashion_mnist.to_float(data.test_images)
    test = TensorLoader(x_test, data.test_labels, batch_size=EVAL_BATCH, device=ctx.device)
    model = MLP(784, [256], NUM_CLASSES).to(ctx.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    ctx.fit(ctx.trainer(model, F.cross_entropy, optimizer, train, test, name="pretrain"))

    order = shifts.stream_order(len(x_test), cfg.stream_length, torch.Generator().manual_seed(cfg.seed))
    drift = round(cfg.drift_at * cfg.stream_length)
    x, y = x_test[order], shifts.drifting_labels(data.test_labels[order], drift, pairs)
    static = predict_proba(model, x, ctx.device).argmax(-1) == y  # the model never adapted
    result = run_stream(ctx, cfg, model, x, y)

    detected = next((a for a in result.alarms if a >= drift), None)
    adapted = next((d for d in result.deployed if detected is not None and d > detected), None)
    summary: dict[str, Any] = {
        "drift_at": drift, "detected_at": detected,
        "detection_delay": detected - drift if detected is not None else None,
        "false_alarms": sum(a < drift for a in result.alarms), "alarms": result.alarms,
        "adapted_at": adapted, "affected_fraction": (y[drift:] != data.test_labels[order][drift:]).double().mean().item(),
        "acc_before": _segment(result.correct, 0, drift),
        "acc_during": _segment(result.correct, drift, adapted),
        "acc_after": _segment(result.correct, adapted, None) if adapted is not None else None,
        "acc_after_no_adaptation": _segment(static, adapted if adapted is not None else drift, None),
        "acc_stream": result.correct.double().mean().item(),
        "acc_stream_no_adaptation": static.double().mean().item(),
    }
    _concept_figure(ctx, cfg, result, static, summary)
    return summary


def _concept_figure(ctx: RunContext, cfg: ConceptShiftConfig, result: StreamResult, static: Tensor,
                    summary: dict[str, Any]) -> None:
    """Windowed accuracy over the stream (adapted and not) and the detector's statistic, events marked."""
    fig, axes = new_figure(nrows=2, size=(9.0, 2.8))
    acc_ax, stat_ax = axes[:, 0]
    window = min(cfg.window, len(static))
    positions = torch.arange(window - 1, len(static)).numpy()
    acc_ax.plot(positions, estimators.windowed_mean(result.correct.double(), window).numpy(),
                label="deployed model (detect + fine-tune)")
    acc_ax.plot(positions, estimators.windowed_mean(static.double(), window).numpy(), alpha=0.7,
                label="never adapted")
    stat_ax.plot(result.statistic.numpy(), color="C2", label="Page–Hinkley mₜ − Mₜ")
    stat_ax.axhline(cfg.threshold, color="k", linestyle=":", label=f"threshold λ = {cfg.threshold:g}")
    for ax in (acc_ax, stat_ax):
        ax.axvline(summary["drift_at"], color="C3", linestyle="--", label="drift")
        for i, alarm in enumerate(result.alarms):
            ax.axvline(alarm, color="C1", linestyle="-", label="alarm" if i == 0 else None)
        for i, deployed in enumerate(result.deployed):
            ax.axvline(deployed, color="C2", linestyle="-.", label="fine-tuned model deployed" if i == 0 else None)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    delay = summary["detection_delay"]
    acc_ax.set(ylabel=f"accuracy (last {window})", ylim=(0, 1),
               title=f"labels of {cfg.swap} swapped at {summary['drift_at']}; "
                     + (f"detected after {delay} images" if delay is not None else "not detected"))
    stat_ax.set(xlabel="position in the stream", ylabel="statistic")
    ctx.save_figure(fig, "concept-shift")


EXPERIMENTS = [
    Experiment("covariate-shift", "shift",
               "softmax regression across a brightness-selected domain split (negatives): importance weights "
               "from a scratch logistic domain classifier, target accuracy over seeds",
               CovariateShiftConfig, covariate_shift,
               headline=("target_acc_plain", "target_acc_weighted", "target_acc_true_weights", "domain_auc")),
    Experiment("label-shift", "shift",
               "MLP on Dirichlet-skewed test sets: black-box shift estimation of q(y) and re-weighted predictions",
               LabelShiftConfig, label_shift,
               headline=("error", "error_naive", "acc_before", "acc_after")),
    Experiment("concept-shift", "shift",
               "a stream whose labels swap mid-way: Page–Hinkley detection delay and fine-tuning recovery",
               ConceptShiftConfig, concept_shift,
               headline=("detection_delay", "acc_before", "acc_during", "acc_after")),
]
