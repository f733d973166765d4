"""``grad-clip``: a vanilla RNN reading images row by row (:class:`~divelab.models.row_rnn.RowRNN`)
whose unclipped SGD training blows up, made stable by clipping the global gradient norm with
the scratch :func:`~divelab.scratch.clip.clip_grad_norm`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.config import FashionConfig, setting
from divelab.data import fashion_mnist
from divelab.experiment import Experiment, RunContext
from divelab.experiments.stability.common import fit_or_diverge
from divelab.models.row_rnn import RowRNN
from divelab.report.figures import new_figure
from divelab.scratch.clip import clip_grad_norm
from divelab.train.callbacks import GradClip


@dataclass
class GradClipConfig(FashionConfig):
    """``RowRNN`` with ``hidden`` units trained by SGD at ``lr`` 0.5, twice from the same
    initial weights: gradients clipped to global norm ``max_norm`` (scratch clip) and not.
    ~4 s per epoch and run on 2 CPU cores: 3 epochs of both take about 30 s.
    """

    epochs: int = 3
    batch_size: int = 256
    lr: float = 0.5
    hidden: int = setting(128, ge=1)
    max_norm: float = setting(1.0, gt=0)


class StepLog:
    """Cross-entropy that also keeps every training batch's loss, plus a clip function that
    keeps every step's gradient norm (before clipping). Evaluation runs without autograd
    and is not logged. Covers the steps run in this process (not restored on --resume)."""

    def __init__(self) -> None:
        self.losses: list[Tensor] = []
        self.grad_norms: list[Tensor] = []

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        value = F.cross_entropy(out, y)
        if torch.is_grad_enabled():
            self.losses.append(value.detach())
        return value

    def clip(self, parameters: Any, max_norm: float) -> Tensor:
        norm = clip_grad_norm(parameters, max_norm)
        self.grad_norms.append(norm)
        return norm

    def values(self) -> tuple[list[float], list[float]]:
        return ([v.item() for v in self.losses], [v.item() for v in self.grad_norms])


def _finite_max(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else None


def grad_clip(cfg: GradClipConfig, ctx: RunContext) -> dict[str, Any]:
    data, train, test = fashion_mnist.loaders(cfg.batch_size, cfg.seed, ctx.device, cfg.data_dir)
    initial = RowRNN(cfg.hidden).state_dict()
    # max_norm = ∞ never clips but still measures the norm, so both runs are logged alike
    runs = {"clipped": cfg.max_norm, "unclipped": math.inf}
    summary: dict[str, Any] = {"max_norm": cfg.max_norm}
    logs: dict[str, StepLog] = {}
    for name, max_norm in runs.items():
        model = RowRNN(cfg.hidden)
        model.load_state_dict(initial)
        model.to(ctx.device)
        logs[name] = log = StepLog()
        trainer = ctx.trainer(model, log.loss, torch.optim.SGD(model.parameters(), lr=cfg.lr), train, test,
                              name=name, callbacks=[GradClip(max_norm, clip_fn=log.clip)])
        history, diverged_epoch = fit_or_diverge(ctx, trainer)
        losses, norms = log.values()
        last = history[-1] if history and diverged_epoch is None else {}
        prefix = "" if name == "clipped" else "unclipped_"
        summary |= {f"{prefix}{k}": last.get(k) for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
        summary[f"{prefix}diverged"] = diverged_epoch is not None
        summary[f"{prefix}diverged_epoch"] = diverged_epoch
        summary[f"{prefix}peak_loss"] = _finite_max(losses)
        summary[f"{prefix}grad_norm_max"] = _finite_max(norms)
        summary[f"{prefix}grad_norm_mean_per_epoch"] = [round(r["grad_norm_mean"], 4) for r in history]
        # clipped run: the share of steps clipped; unclipped run: the share that would have been
        summary[f"{prefix}above_max_norm_fraction"] = (sum(n > cfg.max_norm for n in norms) / len(norms)
                                                       if norms else None)
    _grad_clip_figure(ctx, logs, cfg)
    summary["data"] = str(data.source)
    return summary


def _grad_clip_figure(ctx: RunContext, logs: dict[str, StepLog], cfg: GradClipConfig) -> None:
    fig, axes = new_figure(ncols=2, size=(5.0, 3.8))
    for name, log in logs.items():
        losses, norms = log.values()
        label = f"clipped to {cfg.max_norm:g}" if name == "clipped" else "unclipped"
        axes[0][0].plot(range(1, len(losses) + 1), losses, linewidth=0.8, label=label)
        axes[0][1].plot(range(1, len(norms) + 1), norms, linewidth=0.8, label=f"{label} (norm before clipping)")
    axes[0][0].set_ylabel("training loss per batch (log scale)")
    axes[0][0].set_title(f"row-by-row RNN, SGD lr {cfg.lr}")
    axes[0][1].axhline(cfg.max_norm, color="k", linestyle="--", linewidth=1, label=f"max_norm {cfg.max_norm:g}")
    axes[0][1].set_ylabel("global gradient norm (log scale)")
    axes[0][1].set_title("gradient norm per step")
    for ax in axes[0]:
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "clipping")


EXPERIMENTS = [
    Experiment("grad-clip", "stability",
               "row-by-row RNN: unclipped SGD blows up, gradient norm clipping (scratch) keeps it stable",
               GradClipConfig, grad_clip, headline=("test_acc", "train_loss", "peak_loss", "unclipped_peak_loss")),
]
