"""Chapter 2 — regularisation: dropout and early stopping, shown where a network overfits.

Both effects only show when the model *can* overfit, so the experiments train on a
random subset of Fashion-MNIST's training set (``train_size`` / ``subset_size``; 0 means
all of it) for many epochs, and measure on the full 10,000-image test set.

- ``dropout-scratch`` / ``dropout``: d2l's dropout MLP (784-256-256-10, dropout 0.2 and
  0.5) trained twice from the same initial weights, with dropout and without. Train
  accuracy is measured in eval mode (dropout off) on the training subset, so the
  train–test gap compares like with like. ``-scratch`` uses ``divelab.scratch`` (dropout,
  linear, relu, cross-entropy, SGD); the plain name uses ``nn.Dropout``,
  ``F.cross_entropy`` and ``torch.optim.SGD``.
- ``early-stopping``: an MLP without dropout, a validation split taken from the training
  subset, and :class:`~divelab.train.callbacks.EarlyStopping` (patience, best-weight
  restore), compared with the same run trained to the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.config import FashionConfig, setting
from divelab.data import TensorLoader, fashion_mnist, split
from divelab.errors import UserError
from divelab.experiment import Experiment, RunContext
from divelab.models import MLP
from divelab.report.figures import new_figure
from divelab.scratch.dropout_mlp import DropoutMLPScratch
from divelab.scratch.optim import SGD
from divelab.scratch.softmax import cross_entropy
from divelab.train import evaluate
from divelab.train.callbacks import EarlyStopping
from divelab.train.trainer import Trainer

EVAL_BATCH = 1000  # evaluation batches: large, since no gradients are kept




def _marker(history: Sequence[dict[str, Any]]) -> str | None:
    """Dots on curves of few epochs (a single point draws no line), none on long ones."""
    return "o" if len(history) <= 20 else None


def _measure(model: nn.Module, loader: TensorLoader, loss_fn: Any) -> dict[str, float]:
    """Loss and accuracy of ``model`` on ``loader`` in eval mode (dropout off)."""
    return evaluate(model, loader, loss_fn, classification=True)


# ---- dropout --------------------------------------------------------------------------------

@dataclass
class DropoutConfig(FashionConfig):
    """d2l's dropout network on a ``train_size`` subset of Fashion-MNIST.

    d2l trains on all 60,000 images (10 epochs, lr 0.5, batch 256), where the network
    barely overfits. 3,000 images for 100 epochs make the no-dropout network overfit (its
    test loss climbs while train accuracy heads for 1). Plain SGD at lr 0.5 or 0.1 is
    unstable on so small a set (accuracy collapses for whole epochs), hence lr 0.05 with
    batch 32. One run trains two models: ≈ 1 minute on two idle CPU cores (57 s measured,
    73 s for ``dropout-scratch``).
    """

    epochs: int = 100
    batch_size: int = 32
    lr: float = 0.05
    train_size: int = setting(3000, ge=0, note="0 = the whole training set")
    hidden1: int = setting(256, ge=1)
    hidden2: int = setting(256, ge=1)
    dropout1: float = setting(0.2, ge=0, lt=1, note="1 would drop every unit")
    dropout2: float = setting(0.5, ge=0, lt=1, note="1 would drop every unit")


ModelFactory = Callable[[tuple[float, float]], nn.Module]
OptimizerFactory = Callable[[Iterable[Tensor]], Any]


def _record_train_eval(loader: TensorLoader, loss_fn: Any) -> Callable[[Trainer, dict[str, Any]], None]:
    """An epoch-end callback adding ``train_loss_eval``/``train_acc_eval``: the training
    subset evaluated with dropout off (the trainer's ``train_acc`` is measured with it on)."""

    def record_train_eval(trainer: Trainer, record: dict[str, Any]) -> None:
        metrics = _measure(trainer.model, loader, loss_fn)
        record.update(train_loss_eval=metrics["loss"], train_acc_eval=metrics["acc"])

    return record_train_eval


def _dropout_comparison(cfg: DropoutConfig, ctx: RunContext, build_model: ModelFactory, loss_fn: Any,
                        build_optimizer: OptimizerFactory) -> dict[str, Any]:
    """Train the network with and without dropout; report test accuracy and train–test gap."""
    data = fashion_mnist.load(cfg.data_dir)
    images, labels = fashion_mnist.subset(data.train_images, data.train_labels, cfg.train_size, cfg.seed)
    train = TensorLoader(images, labels, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, device=ctx.device)
    train_eval = TensorLoader(images, labels, batch_size=EVAL_BATCH, device=ctx.device)
    test = TensorLoader(fashion_mnist.to_float(data.test_images), data.test_labels, batch_size=EVAL_BATCH,
                        device=ctx.device)

    runs: dict[str, tuple[list[dict[str, Any]], dict[str, float]]] = {}
    for name, dropouts in (("with-dropout", (cfg.dropout1, cfg.dropout2)), ("no-dropout", (0.0, 0.0))):
        torch.manual_seed(cfg.seed)  # both models start from the same weights
        model = build_model(dropouts).to(ctx.device)
        trainer = ctx.trainer(model, loss_fn, build_optimizer(model.parameters()), train, test, name=name,
                              callbacks=[_record_train_eval(train_eval, loss_fn)])
        history = ctx.fit(trainer)
        train_metrics, test_metrics = _measure(model, train_eval, loss_fn), _measure(model, test, loss_fn)
        runs[name] = (history, {"train_loss_eval": train_metrics["loss"], "train_acc_eval": train_metrics["acc"],
                                "test_loss": test_metrics["loss"], "test_acc": test_metrics["acc"],
                                "gap": train_metrics["acc"] - test_metrics["acc"]})
    _dropout_figure(ctx, runs)

    with_dropout, without = runs["with-dropout"][1], runs["no-dropout"][1]
    return {**with_dropout, **{f"{key}_no_dropout": value for key, value in without.items()},
            "gap_reduction": without["gap"] - with_dropout["gap"],
            "test_acc_gain": with_dropout["test_acc"] - without["test_acc"],
            "train_examples": len(labels)}


def _dropout_figure(ctx: RunContext, runs: dict[str, tuple[list[dict[str, Any]], dict[str, float]]]) -> None:
    """Accuracy curves (train in eval mode, test) and test loss per epoch; final accuracies and gap as bars."""
    fig, axes = new_figure(ncols=3, size=(4.4, 3.5))
    acc_ax, loss_ax, bar_ax = axes[0]
    for color, (name, (history, _)) in zip(("C0", "C3"), runs.items()):
        epochs = [r["epoch"] for r in history]
        style = {"color": color, "marker": _marker(history), "markersize": 3}
        acc_ax.plot(epochs, [r["train_acc_eval"] for r in history], **style, label=f"{name}: train")
        acc_ax.plot(epochs, [r["test_acc"] for r in history], **style, linestyle="--", label=f"{name}: test")
        loss_ax.plot(epochs, [r["test_loss"] for r in history], **style, label=name)
    acc_ax.set(xlabel="epoch", ylabel="accuracy (eval mode)", title="train vs test accuracy")
    loss_ax.set(xlabel="epoch", ylabel="test loss", title="test loss (rises when overfitting)")

    metrics = ("train_acc_eval", "test_acc", "gap")
    width = 0.38
    for i, (color, (name, (_, final))) in enumerate(zip(("C0", "C3"), runs.items())):
        positions = [m + (i - 0.5) * width for m in range(len(metrics))]
        bars = bar_ax.bar(positions, [final[m] for m in metrics], width, color=color, label=name)
        bar_ax.bar_label(bars, fmt="%.3f", fontsize=7)
    bar_ax.set_xticks(range(len(metrics)), ["train acc", "test acc", "train − test gap"])
    bar_ax.set(ylabel="after the last epoch", title="final accuracy and gap")
    for ax in (acc_ax, loss_ax, bar_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "dropout")


def dropout_scratch(cfg: DropoutConfig, ctx: RunContext) -> dict[str, Any]:
    def build(dropouts: tuple[float, float]) -> nn.Module:
        return DropoutMLPScratch(784, (cfg.hidden1, cfg.hidden2), 10, dropouts)

    return _dropout_comparison(cfg, ctx, build, cross_entropy, lambda params: SGD(params, lr=cfg.lr))


def dropout(cfg: DropoutConfig, ctx: RunContext) -> dict[str, Any]:
    def build(dropouts: tuple[float, float]) -> nn.Module:
        return MLP(784, (cfg.hidden1, cfg.hidden2), 10, dropouts=dropouts)

    return _dropout_comparison(cfg, ctx, build, F.cross_entropy,
                               lambda params: torch.optim.SGD(params, lr=cfg.lr))


# ---- early stopping -------------------------------------------------------------------------

@dataclass
class EarlyStoppingConfig(FashionConfig):
    """A two-hidden-layer MLP on ``subset_size`` training images, ``val_fraction`` of them
    held out for validation (2,000 train + 1,000 validation by default).

    Batch 16 at lr 0.05 fits the 2,000 images fast, so validation loss bottoms out after
    ≈ 25 epochs and then climbs; 60 epochs show the climb. ``patience`` 10 rides out the
    epoch-to-epoch noise of a 1,000-image validation set. ≈ 35 s on two idle CPU cores.
    """

    epochs: int = 60
    batch_size: int = 16
    lr: float = 0.05
    subset_size: int = setting(3000, ge=0, note="0 = the whole training set")
    val_fraction: float = setting(1 / 3, gt=0, lt=1)
    hidden: int = setting(256, ge=1)
    patience: int = setting(10, ge=1, note="epochs")
    min_delta: float = setting(0.0, ge=0)
    monitor: Literal["val_loss", "val_acc"] = "val_loss"


def _validation_split(images: Tensor, labels: Tensor, fraction: float,
                      seed: int) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    val_size = round(len(labels) * fraction)
    if not 0 < val_size < len(labels):
        raise UserError(f"val_fraction {fraction} of {len(labels)} examples leaves no training or no validation "
                        "examples; change val_fraction or subset_size")
    return split(images, labels, val_size=val_size, seed=seed)


def _best_in_hindsight(history: Sequence[dict[str, Any]], monitor: str, mode: str) -> int:
    """The epoch a stopper with unlimited patience would have restored (first best on ties)."""
    pick = min if mode == "min" else max
    return pick(history, key=lambda r: r[monitor])["epoch"] if history else 0


def early_stopping(cfg: EarlyStoppingConfig, ctx: RunContext) -> dict[str, Any]:
    """The same model trained twice from the same start: once stopped by patience on the
    validation metric (best weights restored), once for every epoch."""
    data = fashion_mnist.load(cfg.data_dir)
    images, labels = fashion_mnist.subset(data.train_images, data.train_labels, cfg.subset_size, cfg.seed)
    (train_x, train_y), (val_x, val_y) = _validation_split(images, labels, cfg.val_fraction, cfg.seed)
    train = TensorLoader(train_x, train_y, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed, device=ctx.device)
    val = TensorLoader(val_x, val_y, batch_size=EVAL_BATCH, device=ctx.device)
    test = TensorLoader(fashion_mnist.to_float(data.test_images), data.test_labels, batch_size=EVAL_BATCH,
                        device=ctx.device)
    mode: Literal["min", "max"] = "min" if cfg.monitor.endswith("loss") else "max"
    stopper = EarlyStopping(cfg.monitor, cfg.patience, mode, cfg.min_delta, restore_best=True)

    histories: dict[str, list[dict[str, Any]]] = {}
    finals: dict[str, dict[str, float]] = {}
    for name, callbacks in (("early-stopping", [stopper]), ("no-stopping", [])):
        torch.manual_seed(cfg.seed)  # the same initial weights: the runs agree until the stop
        model = MLP(784, (cfg.hidden, cfg.hidden), 10).to(ctx.device)
        trainer = ctx.trainer(model, F.cross_entropy, torch.optim.SGD(model.parameters(), lr=cfg.lr), train, test,
                              val_loader=val, callbacks=callbacks, name=name)
        histories[name] = ctx.fit(trainer)
        # after fit the early-stopping model holds its best epoch's weights again: measure them
        val_metrics, test_metrics = _measure(model, val, F.cross_entropy), _measure(model, test, F.cross_entropy)
        finals[name] = {"val_loss": val_metrics["loss"], "val_acc": val_metrics["acc"],
                        "test_loss": test_metrics["loss"], "test_acc": test_metrics["acc"]}

    stopped, full = histories["early-stopping"], histories["no-stopping"]
    at_best = stopped[stopper.best_epoch - 1] if stopper.best_epoch else {}
    last = stopped[-1] if stopped else {}
    hindsight = _best_in_hindsight(full, cfg.monitor, mode)
    _early_stopping_figure(ctx, stopped, full, stopper.best_epoch, stopper.stopped_epoch, hindsight, cfg.monitor)
    restored, no_stop = finals["early-stopping"], finals["no-stopping"]
    return {
        "best_epoch": stopper.best_epoch,
        "stopped_epoch": stopper.stopped_epoch,  # 0: patience never ran out
        "epochs_trained": len(stopped),
        "best_epoch_hindsight": hindsight,
        f"{cfg.monitor}_at_best": at_best.get(cfg.monitor),
        f"{cfg.monitor}_at_last": last.get(cfg.monitor),
        # the restored model re-evaluated: equals the best epoch's record if the weights came back
        "val_loss_restored": restored["val_loss"], "val_acc_restored": restored["val_acc"],
        "test_loss": restored["test_loss"], "test_acc": restored["test_acc"],
        "test_loss_at_last": last.get("test_loss"), "test_acc_at_last": last.get("test_acc"),
        "val_loss_no_stop": no_stop["val_loss"], "val_acc_no_stop": no_stop["val_acc"],
        "test_loss_no_stop": no_stop["test_loss"], "test_acc_no_stop": no_stop["test_acc"],
        "train_examples": len(train_y), "val_examples": len(val_y),
    }


def _early_stopping_figure(ctx: RunContext, stopped: list[dict[str, Any]], full: list[dict[str, Any]],
                           best_epoch: int, stopped_epoch: int, hindsight: int, monitor: str) -> None:
    """Validation loss and test accuracy per epoch, the best epoch and the stop marked."""
    fig, axes = new_figure(ncols=2, size=(5.0, 3.6))
    marker = _marker(full)
    for ax, key, label in ((axes[0][0], "val_loss", "loss"), (axes[0][1], "test_acc", "test accuracy")):
        ax.plot([r["epoch"] for r in full], [r[key] for r in full], color="0.6", marker=marker,
                label="trained to the end")
        if key == "val_loss":
            ax.plot([r["epoch"] for r in full], [r["train_loss"] for r in full], color="0.6", linestyle=":",
                    label="train loss (trained to the end)")
        ax.plot([r["epoch"] for r in stopped], [r[key] for r in stopped], color="C0", marker=marker,
                label="early stopping")
        if best_epoch:
            ax.axvline(best_epoch, color="C2", linestyle="--", label=f"best epoch {best_epoch} (restored)")
            ax.plot(best_epoch, stopped[best_epoch - 1][key], marker="*", markersize=12, color="C2")
        if stopped_epoch:
            ax.axvline(stopped_epoch, color="C3", linestyle="-.", label=f"stopped after epoch {stopped_epoch}")
        if hindsight and hindsight != best_epoch:
            ax.axvline(hindsight, color="0.3", linestyle=":", label=f"best {monitor} in hindsight: {hindsight}")
        ax.set(xlabel="epoch", ylabel=label, title="validation loss" if key == "val_loss" else label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "early-stopping")


EXPERIMENTS = [
    Experiment("dropout-scratch", "generalization",
               "dropout MLP from scratch on a Fashion-MNIST subset, with vs without dropout: test acc and train–test gap",
               DropoutConfig, dropout_scratch,
               headline=("test_acc", "gap", "test_acc_no_dropout", "gap_no_dropout")),
    Experiment("dropout", "generalization",
               "dropout MLP with nn.Dropout on a Fashion-MNIST subset, with vs without dropout: test acc and gap",
               DropoutConfig, dropout, headline=("test_acc", "gap", "test_acc_no_dropout", "gap_no_dropout")),
    Experiment("early-stopping", "generalization",
               "validation-based early stopping with patience, best weights restored, vs training to the end",
               EarlyStoppingConfig, early_stopping,
               headline=("best_epoch", "epochs_trained", "test_acc", "test_acc_no_stop", "test_loss",
                         "test_loss_no_stop")),
]
