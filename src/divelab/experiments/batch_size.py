"""Chapter 4 — optimisation: small batch vs large batch (Hung-yi Lee's lecture).

- ``batch-size``: the course's MLP (784-256-10, ReLU) trained on Fashion-MNIST once per
  batch size in ``batch_sizes`` (16 … 4096 by default), each a named sub-run ``bs16`` …,
  all from the same initial weights with the same lr, plain SGD and number of epochs.

The lecture's two claims, measured:

1. *Time.* With parallel hardware one update on a large batch costs about as much as one
   on a small batch, so an epoch (``⌈n / B⌉`` updates) gets much faster as ``B`` grows.
   Time per epoch is the median over epochs of the trainer's training time of an epoch
   (``train_seconds``: forward, backward, step; evaluation excluded); time per
   update is that divided by the epoch's updates. On the lecture's GPU it stayed nearly
   flat up to about a thousand images; a CPU has little parallelism to spare: on one idle core an update
   took 0.7 ms at B = 16 and 48 ms at B = 4096, so an epoch got only ≈ 4× faster
   (2.8 s → 0.7 s), not 256×. Timings on a shared machine are noisy: with two threads
   and another busy process, small-batch updates slowed down tenfold and more (threads
   wait on each other); ``OMP_NUM_THREADS=1`` gives steadier numbers.
2. *Quality.* For the same number of epochs the small batches' many noisy updates reach
   a better training *and* test accuracy. The comparison is per epoch, as in the lecture:
   equal epochs and lr means batch 16 takes 256 times as many steps as batch 4096, so
   part of the gap is simply more updates; this experiment does not separate that from the
   noise of the small batches' gradients. lr is not scaled with ``B``; ``--lr`` changes
   it for every batch size alike.

Train accuracy is measured after training, in eval mode, on the whole training set (the
trainer's ``train_acc`` is a running mean over the epoch, taken while the weights move).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator

from divelab.config import FashionConfig, setting
from divelab.data import TensorLoader, fashion_mnist
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.models import MLP
from divelab.report.figures import new_figure
from divelab.train import evaluate

EVAL_BATCH = 1024  # evaluation batches, the same for every batch size (evaluation is not timed anyway)
HIDDEN = 256


@dataclass
class BatchSizeConfig(FashionConfig):
    """One model per entry of ``batch_sizes``; the inherited ``batch_size`` is unused (and
    refused if changed: set ``batch_sizes`` instead).

    lr 0.1 (the book's MLP setting) for every batch size. 5 epochs: one epoch of each of
    the five default models takes ≈ 6–11 s of training together on two CPU cores (batch 16
    alone 3–7 s); a default run took 65–86 s of wall time in all (six minutes once, when
    other jobs kept both cores busy: see the timing note above).
    """

    epochs: int = 5
    batch_sizes: tuple[int, ...] = setting((16, 64, 256, 1024, 4096), ge=1, distinct=True)

    def validate(self) -> None:
        super().validate()
        if self.batch_size != FashionConfig.batch_size:
            raise UserError(f"batch-size trains every size in batch_sizes and ignores batch_size "
                            f"(got {self.batch_size}); use --set batch_sizes={self.batch_size} instead")

    @property
    def batch_size_list(self) -> list[int]:
        """The batch sizes, smallest first."""
        return sorted(self.batch_sizes)


def _train_one(cfg: BatchSizeConfig, ctx: RunContext, batch_size: int, images: torch.Tensor, labels: torch.Tensor,
               train_eval: TensorLoader, test: TensorLoader) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train the MLP with ``batch_size`` as sub-run ``bs{batch_size}``; its row and history."""
    train = TensorLoader(images, labels, batch_size=batch_size, shuffle=True, seed=cfg.seed, device=ctx.device)
    torch.manual_seed(cfg.seed)  # every batch size starts from the same weights
    model = MLP(784, [HIDDEN], 10).to(ctx.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    trainer = ctx.trainer(model, F.cross_entropy, optimizer, train, test, name=f"bs{batch_size}")
    history = ctx.fit(trainer, curves=False)
    # the median epoch: robust to the first epoch's warm-up and to other processes' bursts
    epoch_seconds = statistics.median(r["train_seconds"] for r in history)
    final_train = evaluate(model, train_eval, F.cross_entropy, classification=True)
    final_test = evaluate(model, test, F.cross_entropy, classification=True)
    row = {"batch_size": batch_size, "updates_per_epoch": len(train), "updates": len(train) * len(history),
           "train_seconds": sum(r["train_seconds"] for r in history),
           "seconds_per_epoch": epoch_seconds, "seconds_per_update": epoch_seconds / len(train),
           "train_acc": final_train["acc"], "test_acc": final_test["acc"],
           "train_loss": final_train["loss"], "test_loss": final_test["loss"]}
    return row, history


def compare_batch_sizes(cfg: BatchSizeConfig, ctx: RunContext) -> dict[str, Any]:
    data = fashion_mnist.load(cfg.data_dir)
    images = fashion_mnist.to_float(data.train_images).to(ctx.device)  # shared by every loader
    labels = data.train_labels.to(ctx.device)
    train_eval = TensorLoader(images, labels, batch_size=EVAL_BATCH)
    test = TensorLoader(fashion_mnist.to_float(data.test_images), data.test_labels, batch_size=EVAL_BATCH,
                        device=ctx.device)
    rows, histories = [], {}
    for size in cfg.batch_size_list:
        row, histories[size] = _train_one(cfg, ctx, size, images, labels, train_eval, test)
        rows.append(row)
    _figure(ctx, rows, histories)
    headline = {f"{key}_bs{row['batch_size']}": row[key] for row in rows
                for key in ("test_acc", "train_acc", "seconds_per_epoch", "seconds_per_update")}
    return {"rows": rows, **headline, "train_examples": len(labels)}


def _figure(ctx: RunContext, rows: list[dict[str, Any]], histories: dict[int, list[dict[str, Any]]]) -> None:
    """Time vs batch size (log-log), final accuracy vs batch size, test accuracy per epoch."""
    fig, axes = new_figure(ncols=3, size=(4.4, 3.6))
    time_ax, acc_ax, curve_ax = axes[0]
    sizes = [r["batch_size"] for r in rows]
    per_update = [r["seconds_per_update"] for r in rows]
    time_ax.plot(sizes, [r["seconds_per_epoch"] for r in rows], marker="o", color="C0", label="per epoch")
    time_ax.plot(sizes, per_update, marker="s", color="C1", label="per update")
    # if an update cost the same at any batch size, an epoch would shrink as 1 / B
    epoch_if_parallel = [per_update[0] * r["updates_per_epoch"] for r in rows]
    time_ax.plot(sizes, epoch_if_parallel, color="C0", linestyle=":", alpha=0.7,
                 label=f"per epoch if an update\ncost the same as at B={sizes[0]}")
    time_ax.set(xscale="log", yscale="log", xlabel="batch size B", ylabel="training seconds (no evaluation)",
                title="time per epoch and per update")

    acc_ax.plot(sizes, [r["train_acc"] for r in rows], marker="o", color="C2", label="train (after training)")
    acc_ax.plot(sizes, [r["test_acc"] for r in rows], marker="s", color="C3", label="test")
    acc_ax.set(xscale="log", xlabel="batch size B", ylabel="accuracy",
               title=f"accuracy after {len(histories[sizes[0]])} epochs, same lr")

    for i, size in enumerate(sizes):
        history = histories[size]
        curve_ax.plot([r["epoch"] for r in history], [r["test_acc"] for r in history], marker="o", markersize=3,
                      color=f"C{i % 10}", label=f"B = {size}")
    curve_ax.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy per epoch")
    curve_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (time_ax, acc_ax):
        ax.set_xticks(sizes, [str(size) for size in sizes], minor=False)
        ax.set_xticks([], minor=True)
    for ax in (time_ax, acc_ax, curve_ax):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "batch-size")


EXPERIMENTS = [
    Experiment("batch-size", "optimization",
               "MLP on Fashion-MNIST with batch sizes 16…4096: time per epoch / per update, train and test accuracy",
               BatchSizeConfig, compare_batch_sizes,
               headline=("test_acc_bs16", "test_acc_bs4096", "seconds_per_epoch_bs16", "seconds_per_epoch_bs4096",
                         "seconds_per_update_bs16", "seconds_per_update_bs4096")),
]
