"""Concept shift on Fashion-MNIST (experiment ``concept-shift``): drift detected on a stream of
errors and the model fine-tuned.

The MLP labels a stream of test images; from ``drift_at`` on, the labelling rule swaps pairs of
classes (``swap``). A Page–Hinkley test on the stream of errors ``e_t`` (0 right, 1 wrong)
raises an alarm when ``m_t − M_t > λ``, with ``m_t = Σ_{i ≤ t} (e_i − ē_i − δ)`` and
``M_t = min_{i ≤ t} m_i`` (:class:`divelab.analysis.shift.PageHinkley`); the next
``adapt_samples`` labelled images are collected and the model is fine-tuned on them. Reported:
drift position, detection delay, accuracy before the drift, during (drift → adapted model
deployed) and after, and the unadapted model's accuracy after.
"""

from __future__ import annotations

import copy
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
from divelab.experiments.shift_common import EVAL_BATCH, NUM_CLASSES, predict_proba
from divelab.models import MLP
from divelab.report.figures import new_figure


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
    stream_length: int = setting(10000, ge=2)
    drift_at: float = setting(0.4, gt=0, lt=1)
    swap: str = "1:8,5:9"  # pairs of classes, not a list of numbers: parsed by parse_pairs
    delta: float = setting(0.05, ge=0)
    threshold: float = setting(20.0, gt=0)
    adapt_samples: int = setting(1000, ge=1)
    adapt_epochs: int = setting(10, ge=1)
    window: int = 200

    def validate(self) -> None:
        super().validate()
        parse_pairs(self.swap)
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
    Experiment("concept-shift", "shift",
               "a stream whose labels swap mid-way: Page–Hinkley detection delay and fine-tuning recovery",
               ConceptShiftConfig, concept_shift,
               headline=("detection_delay", "acc_before", "acc_during", "acc_after")),
]
