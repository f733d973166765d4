"""The training guide — ensembles: averaging K overfitted networks cuts the variance of one.

One MLP trained to a training loss near 0 on a small subset of Fashion-MNIST (2,000
images) overfits: its test loss is high and its predictions depend on the accident of its
initial weights and batch order. ``ensemble`` trains ``members`` such networks two ways,

- **seeds** (``seed-1`` … ``seed-K``): the same training subset, a different seed each
  (initial weights and batch order);
- **bagging** (``bag-1`` … ``bag-K``): member k starts from the weights and batch-order
  seed of ``seed-k`` but trains on its own bootstrap resample of the subset (n draws with
  replacement: ≈ 63 % of the images, some several times),

and measures the ensemble of the first K members for K = 1 … ``members`` on the full
10,000-image test set. The ensemble predicts the mean of its members' softmax
probabilities, ``p̄(c|x) = (1/K) Σ_k softmax(f_k(x))_c``, ``ŷ = argmax_c p̄(c|x)``; its
test loss is the NLL of ``p̄`` (``−mean log p̄(y|x)``, never above the members' mean NLL:
Jensen, see :mod:`divelab.analysis.ensembles`). A majority vote (``vote_test_acc``) is
reported beside it. The train–test gap is the ensemble's accuracy on the training subset
(eval mode; for bagging the whole subset, not one resample) minus its test accuracy.

Every member is trained by the project trainer, so its history (train loss → 0, test loss
climbing) is in ``metrics-seed-k.jsonl`` / ``metrics-bag-k.jsonl``. Summary: ``test_acc``,
``test_loss``, ``gap`` … of the full seed ensemble, ``single_*`` the mean member (with the
spread of its test accuracy), ``bagging_*`` the full bagging ensemble, ``per_k`` a record
per kind and K, ``member_results`` a record per member.

What it shows: averaging mostly cuts the test *loss* (an overfitted member is confidently
wrong; its mistakes are not the others'), and the accuracy less. The accuracy gap barely
moves for seeds, whose members already fit the training subset; a bagging ensemble's gap
*grows* with K, since its training accuracy climbs back to ≈ 1 from the ≈ 93 % of one
member that saw 63 % of the images. The default run (20 members) took 172 s of training
on two idle CPU cores.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.analysis.ensembles import accuracy, bootstrap_indices, ensemble_scores, nll, stacked_log_probs
from divelab.config import FashionOptimConfig, OptimizerName, setting
from divelab.data import TensorLoader, fashion_mnist
from divelab.experiment import Experiment, RunContext
from divelab.models import MLP
from divelab.report.figures import new_figure
from divelab.train.optim import build_optimizer, build_schedule

EVAL_BATCH = 1000
BOOTSTRAP_STREAM = 1  # seeds the resample of bag-k apart from its weights and batch order
KINDS = {"seed": "seeds (same data)", "bag": "bagging (bootstrap resamples)"}


@dataclass
class EnsembleConfig(FashionOptimConfig):
    """K one-hidden-layer MLPs (784-``hidden``-10) per kind on ``train_size`` training images.

    Adam at lr 0.001, batch 32, for 80 epochs drives each member's training loss to ≈ 0.01
    (training accuracy 1) on 2,000 images while its test loss climbs from ≈ 0.53 to ≈ 1:
    every member overfits. Plain or momentum SGD (``--set optimizer=momentum --lr 0.05``)
    was still at a training loss of 0.1–0.3 after 40–60 epochs; a cosine schedule makes the
    members end closer together, i.e. leaves the ensemble less variance to remove. The
    optimiser and schedule are chosen by name as in ``mlp`` (``--set optimizer=…``).
    """

    min_epochs: ClassVar[int] = 0  # epochs = 0: the networks at their initial weights

    epochs: int = 80
    batch_size: int = 32
    lr: float = 0.001
    optimizer: OptimizerName = "adam"
    members: int = setting(10, ge=1, note="the number K of networks per ensemble")
    train_size: int = setting(2000, ge=0, note="0 = the whole training set")
    hidden: int = setting(256, ge=1)
    bagging: bool = True


def derived_seed(*keys: int) -> int:
    """A 63-bit seed that is a function of ``keys`` (run seed, member, stream) alone, so that
    members of runs with neighbouring seeds do not coincide."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1, dtype=np.uint64)[0]) & (2**63 - 1)


def _train_member(cfg: EnsembleConfig, ctx: RunContext, name: str, seed: int, images: Tensor, labels: Tensor,
                  test: TensorLoader) -> tuple[nn.Module, list[dict[str, Any]]]:
    """One member: weights drawn from ``seed``, batches shuffled by ``seed``, trained quietly."""
    torch.manual_seed(seed)
    model = MLP(784, [cfg.hidden], 10).to(ctx.device)
    train = TensorLoader(images, labels, batch_size=cfg.batch_size, shuffle=True, seed=seed, device=ctx.device)
    optimizer = build_optimizer(cfg, model.parameters())
    trainer = ctx.trainer(model, F.cross_entropy, optimizer, train, test, name=name, checkpoint_every=cfg.epochs,
                          scheduler=build_schedule(cfg, optimizer, len(train)))
    trainer.progress.enabled = False  # one line per member instead (below)
    history = ctx.fit(trainer, curves=False)
    if ctx.progress and history:
        last = history[-1]
        print(f"{name}: train_loss {last['train_loss']:.4g}  test_loss {last['test_loss']:.4g}  "
              f"test_acc {last['test_acc']:.4g}", file=sys.stderr, flush=True)
    return model, history


def _train_kind(cfg: EnsembleConfig, ctx: RunContext, kind: str, images: Tensor, labels: Tensor,
                test: TensorLoader) -> tuple[list[nn.Module], list[list[dict[str, Any]]], list[float]]:
    """The K members of one kind, their histories and (bagging) each resample's distinct fraction."""
    models, histories, distinct = [], [], []
    for k in range(1, cfg.members + 1):
        seed = derived_seed(cfg.seed, k)
        x, y = images, labels
        if kind == "bag":
            idx = bootstrap_indices(len(labels), derived_seed(cfg.seed, k, BOOTSTRAP_STREAM))
            x, y = images[idx], labels[idx]
            distinct.append(idx.unique().numel() / len(labels))
        model, history = _train_member(cfg, ctx, f"{kind}-{k}", seed, x, y, test)
        models.append(model)
        histories.append(history)
    return models, histories, distinct


def size_curve(kind: str, train_lp: Tensor, train_y: Tensor, test_lp: Tensor, test_y: Tensor) -> list[dict[str, Any]]:
    """A record per K = 1 … K_max for the ensemble of the first K members (log-probs ``(K, N, C)``)."""
    rows = []
    for k in range(1, len(test_lp) + 1):
        test, train = ensemble_scores(test_lp[:k], test_y), ensemble_scores(train_lp[:k], train_y)
        rows.append({"kind": kind, "k": k, "test_acc": test["acc"], "test_loss": test["loss"],
                     "vote_test_acc": test["vote_acc"], "train_acc": train["acc"], "train_loss": train["loss"],
                     "gap": train["acc"] - test["acc"]})
    return rows


def member_rows(kind: str, train_lp: Tensor, train_y: Tensor, test_lp: Tensor, test_y: Tensor) -> list[dict[str, Any]]:
    """Each member alone: accuracy and NLL on the test set and on the training subset (eval mode)."""
    rows = []
    for k, (tr, te) in enumerate(zip(train_lp, test_lp), start=1):
        test_acc, train_acc = accuracy(te.argmax(-1), test_y), accuracy(tr.argmax(-1), train_y)
        rows.append({"name": f"{kind}-{k}", "test_acc": test_acc, "test_loss": nll(te, test_y), "train_acc": train_acc,
                     "train_loss": nll(tr, train_y), "gap": train_acc - test_acc})
    return rows


def _summarise(kind: str, curve: list[dict[str, Any]], singles: list[dict[str, Any]]) -> dict[str, Any]:
    """Flat summary keys of one kind: the full ensemble, and the mean (and spread) of its members."""
    prefix = "" if kind == "seed" else "bagging_"
    full = curve[-1]
    out = {f"{prefix}{key}": full[key] for key in ("test_acc", "test_loss", "vote_test_acc", "train_acc",
                                                   "train_loss", "gap")}
    for key in ("test_acc", "test_loss", "train_acc", "train_loss", "gap"):
        out[f"{prefix}single_{key}"] = statistics.fmean(r[key] for r in singles)
    accs = [r["test_acc"] for r in singles]
    out[f"{prefix}single_test_acc_std"] = statistics.stdev(accs) if len(accs) > 1 else 0.0
    out[f"{prefix}single_test_acc_min"], out[f"{prefix}single_test_acc_max"] = min(accs), max(accs)
    out[f"{prefix}acc_gain"] = full["test_acc"] - out[f"{prefix}single_test_acc"]
    out[f"{prefix}loss_reduction"] = out[f"{prefix}single_test_loss"] - full["test_loss"]
    return out


def ensemble(cfg: EnsembleConfig, ctx: RunContext) -> dict[str, Any]:
    data = fashion_mnist.load(cfg.data_dir)
    images, labels = fashion_mnist.subset(data.train_images, data.train_labels, cfg.train_size, cfg.seed)
    test_x, test_y = fashion_mnist.to_float(data.test_images).to(ctx.device), data.test_labels.to(ctx.device)
    test = TensorLoader(test_x, test_y, batch_size=EVAL_BATCH, device=ctx.device)
    train_x, train_y = images.to(ctx.device), labels.to(ctx.device)

    curves, singles, histories = {}, {}, {}
    summary: dict[str, Any] = {"members": cfg.members, "train_examples": len(labels), "test_examples": len(test_y)}
    for kind in ["seed", "bag"] if cfg.bagging else ["seed"]:
        models, histories[kind], distinct = _train_kind(cfg, ctx, kind, images, labels, test)
        train_lp = stacked_log_probs(models, train_x, EVAL_BATCH)  # (K, n_train, 10)
        test_lp = stacked_log_probs(models, test_x, EVAL_BATCH)  # (K, n_test, 10)
        curves[kind] = size_curve(kind, train_lp, train_y, test_lp, test_y)
        singles[kind] = member_rows(kind, train_lp, train_y, test_lp, test_y)
        summary.update(_summarise(kind, curves[kind], singles[kind]))
        if distinct:
            summary["bootstrap_distinct_fraction"] = statistics.fmean(distinct)
    summary["per_k"] = [row for curve in curves.values() for row in curve]
    summary["member_results"] = [row for rows in singles.values() for row in rows]
    _size_figure(ctx, curves, singles)
    _gap_figure(ctx, curves, singles)
    _members_figure(ctx, histories, curves)
    return summary


# ---- figures ---------------------------------------------------------------------------------

def _singles_at_one(ax: Any, kind: str, i: int, singles: list[dict[str, Any]], key: str) -> None:
    """The members alone as dots near K = 1 (each kind a little to one side), their mean dotted."""
    values = [r[key] for r in singles]
    offsets = np.linspace(-0.12, 0.12, len(values)) + (0.18 if i else -0.18)
    ax.scatter(1 + offsets, values, s=12, color=f"C{i}", alpha=0.6, zorder=3,
               label=f"{KINDS[kind].split(' ')[0]}: single members")
    ax.axhline(statistics.fmean(values), color=f"C{i}", linestyle=":", linewidth=1)


def _size_figure(ctx: RunContext, curves: dict[str, list[dict[str, Any]]],
                 singles: dict[str, list[dict[str, Any]]]) -> None:
    """Test accuracy and test NLL of the ensemble against its size K, for both kinds."""
    fig, axes = new_figure(ncols=2, size=(5.0, 3.8))
    acc_ax, loss_ax = axes[0]
    for i, (kind, curve) in enumerate(curves.items()):
        ks = [r["k"] for r in curve]
        acc_ax.plot(ks, [r["test_acc"] for r in curve], color=f"C{i}", marker="o", markersize=4,
                    label=f"{KINDS[kind]}: mean of probabilities")
        acc_ax.plot(ks, [r["vote_test_acc"] for r in curve], color=f"C{i}", linestyle="--", linewidth=1,
                    label=f"{KINDS[kind].split(' ')[0]}: majority vote")
        loss_ax.plot(ks, [r["test_loss"] for r in curve], color=f"C{i}", marker="o", markersize=4, label=KINDS[kind])
        _singles_at_one(acc_ax, kind, i, singles[kind], "test_acc")
        _singles_at_one(loss_ax, kind, i, singles[kind], "test_loss")
    acc_ax.set(xlabel="ensemble size K (first K members)", ylabel="test accuracy",
               title="test accuracy (dotted: mean single member)")
    loss_ax.set(xlabel="ensemble size K (first K members)", ylabel="test NLL of the averaged probabilities",
                title="test loss −mean log p̄(y|x)")
    for ax in (acc_ax, loss_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "ensemble-size")


def _gap_figure(ctx: RunContext, curves: dict[str, list[dict[str, Any]]],
                singles: dict[str, list[dict[str, Any]]]) -> None:
    """The train–test accuracy gap against K, and the train and test accuracies it is made of."""
    fig, axes = new_figure(ncols=2, size=(5.0, 3.8))
    gap_ax, acc_ax = axes[0]
    for i, (kind, curve) in enumerate(curves.items()):
        ks = [r["k"] for r in curve]
        gap_ax.plot(ks, [r["gap"] for r in curve], color=f"C{i}", marker="o", markersize=4, label=KINDS[kind])
        _singles_at_one(gap_ax, kind, i, singles[kind], "gap")
        acc_ax.plot(ks, [r["train_acc"] for r in curve], color=f"C{i}", marker="^", markersize=4,
                    label=f"{KINDS[kind].split(' ')[0]}: train subset")
        acc_ax.plot(ks, [r["test_acc"] for r in curve], color=f"C{i}", marker="o", markersize=4, linestyle="--",
                    label=f"{KINDS[kind].split(' ')[0]}: test")
    gap_ax.set(xlabel="ensemble size K", ylabel="train acc − test acc", title="train–test gap (eval mode)")
    acc_ax.set(xlabel="ensemble size K", ylabel="accuracy", title="ensemble accuracy: training subset vs test")
    for ax in (gap_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "gap")


def _members_figure(ctx: RunContext, histories: dict[str, list[list[dict[str, Any]]]],
                    curves: dict[str, list[dict[str, Any]]]) -> None:
    """Every member's training and test loss per epoch (each one overfits), the full ensemble's test loss beside them."""
    fig, axes = new_figure(ncols=len(histories), size=(4.6, 3.6))
    for ax, (i, (kind, runs)) in zip(axes[0], enumerate(histories.items())):
        for j, history in enumerate(runs):
            epochs = [r["epoch"] for r in history]
            marker = "o" if len(history) <= 3 else None
            ax.plot(epochs, [r["train_loss"] for r in history], color=f"C{i}", alpha=0.5, marker=marker,
                    label="members: train loss" if j == 0 else None)
            ax.plot(epochs, [r["test_loss"] for r in history], color="C3", alpha=0.5, linestyle="--", marker=marker,
                    label="members: test loss" if j == 0 else None)
        ax.axhline(curves[kind][-1]["test_loss"], color="k", linestyle=":",
                   label=f"ensemble of {len(runs)}: test loss")
        ax.set_yscale("log")
        ax.set(xlabel="epoch", ylabel="cross-entropy", title=KINDS[kind])
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    ctx.save_figure(fig, "members")


EXPERIMENTS = [
    Experiment("ensemble", "guide",
               "K = 1…10 overfitted MLPs (different seeds; bagging) on a Fashion-MNIST subset: the averaged "
               "probabilities' test accuracy, test NLL and train–test gap against K",
               EnsembleConfig, ensemble,
               headline=("single_test_acc", "test_acc", "bagging_test_acc", "single_test_loss", "test_loss",
                         "bagging_test_loss", "single_gap", "gap")),
]
