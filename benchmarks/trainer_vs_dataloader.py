"""Epoch time of the divelab trainer against the course's usual ``DataLoader`` pipeline.

Every side trains the same model on the real Fashion-MNIST training set (60,000 images)
in batches of 256, with the same number of intra-op threads (one per CPU this process may
use) and the same seed, so they start from identical weights. ``--model mlp`` (default) is
the course's ``MLP(784, [256], 10)`` with SGD lr 0.1; ``--model lenet`` the course's
LeNet-5 (sigmoid, average pooling, Xavier init) with SGD lr 0.9. The loss is
``F.cross_entropy``. Three pipelines are timed:

``baseline``
    What the course usually does: a ``torch.utils.data.Dataset`` holding the raw uint8
    images as numpy arrays whose ``__getitem__`` turns ONE image into a float tensor in
    [0, 1] of shape (1, 28, 28) (what torchvision's ``ToTensor`` does), a
    ``DataLoader(batch_size=256, shuffle=True, num_workers=4)`` with the default
    ``persistent_workers=False`` — so the workers are started again every epoch, and that
    start-up is part of the epoch — and the plain loop ``loss = loss_fn(net(X), y);
    optimizer.zero_grad(); loss.backward(); optimizer.step()``.
``tensor_loop``
    The same plain loop over batches of a divelab ``TensorLoader`` (the whole set held as
    one float tensor, batched by index), without the ``Trainer``.
``divelab``
    ``divelab.train.Trainer`` driven as the experiments drive it (a convolutional network's
    weights in channels-last layout, as ``train_classifier`` does): a ``TensorLoader`` from
    ``fashion_mnist.loaders``, ``progress=False``, no output directory, no eval loader.
    To interleave it with the other sides, one trainer is kept and ``fit()`` is called once
    per epoch with ``trainer.epochs`` raised by one each time; an epoch's time is the wall
    time around that ``fit()`` call (the trainer's own cumulative ``seconds`` are reported
    too, as a cross-check). Its precision is ``--precision``, by default ``auto`` resolved as
    ``divelab run MODEL`` resolves it (bf16 only for an experiment opted in, on a device that
    computes bf16 in hardware); the JSON's ``divelab_precision`` says which and why. The other
    sides are the course's, in fp32.

After ``--warmup`` uncounted epochs, ``--epochs`` epochs are timed, the sides alternating
epoch by epoch (baseline, tensor_loop, divelab, then tensor_loop, divelab, baseline, …) so
that drift in the machine's speed hits all of them alike and no side always runs right
after the baseline's worker processes have exited.

Run it with::

    .venv/bin/python benchmarks/trainer_vs_dataloader.py [--epochs 3] [--warmup 1]
        [--num-workers 4] [--batch-size 256] [--device cpu] [--data-dir DIR]

Progress lines go to stderr; stdout gets ONE JSON object. ``*_epoch_s`` are median
seconds per epoch and ``*_epochs_s`` every timed epoch; ``ratio`` is
``baseline_epoch_s / divelab_epoch_s`` (how many times faster divelab is per epoch) and
``meets_target`` says whether it reaches ``target_ratio`` (2.0 for the MLP, 3.0 for LeNet:
the targets of the issues that asked for them). ``test_acc`` is each side's accuracy on
the 10,000 test images after its last epoch, to show the sides learn alike. ``trainer_overhead`` is
``divelab_epoch_s / tensor_loop_epoch_s - 1``, the share the ``Trainer`` adds over the bare
loop (metrics kept on the device, a loss check every 10 batches, the epoch record).
``final_train_loss`` is each side's mean training loss in its last epoch — a sanity check
that the same model trains on every side.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from divelab import machine
from divelab.data import fashion_mnist
from divelab.data.loader import TensorLoader
from divelab.models import MLP
from divelab.models.lenet import LeNet
from divelab.runner import get_experiment
from divelab.train import Trainer, evaluate
from divelab.train.precision import choose

SEED = 0
# name: (model builder, description, learning rate, target ratio)
MODELS: dict[str, tuple[Callable[[], nn.Module], str, float, float]] = {
    "mlp": (lambda: MLP(784, [256], 10), "MLP(784, [256], 10)", 0.1, 2.0),
    "lenet": (lambda: LeNet(), "LeNet() (sigmoid, avg-pool, Xavier)", 0.9, 3.0),
}

EpochFn = Callable[[int], float]  # runs epoch number e, returns its mean training loss


def log(message: str) -> None:
    """A progress line, on stderr (stdout carries only the JSON)."""
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp", help="which model to train (default mlp)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per side (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted epochs per side first (default 1)")
    parser.add_argument("--num-workers", type=int, default=4, help="DataLoader workers of the baseline (default 4)")
    parser.add_argument("--batch-size", type=int, default=256, help="batch size of every side (default 256)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, … (default cpu)")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="the divelab side's precision (default auto: what `divelab run MODEL` would use)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the divelab side's model (--set compile=true of `divelab run`); the "
                             "compilation falls in the warm-up epochs")
    parser.add_argument("--data-dir", default=None,
                        help="Fashion-MNIST directory (default: divelab's usual lookup)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.warmup < 0 or args.num_workers < 0 or args.batch_size < 1:
        parser.error("need --epochs ≥ 1, --warmup ≥ 0, --num-workers ≥ 0, --batch-size ≥ 1")
    return args


# ---- the course's pipeline ----------------------------------------------------------------


class FashionMNISTImages(Dataset):
    """Raw uint8 images (N, 28, 28) and labels as numpy arrays, one sample converted per call."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        """Image ``i`` as float32 in [0, 1] of shape (1, 28, 28), as ``ToTensor`` gives it."""
        image = torch.from_numpy(self.images[i]).float().div(255).unsqueeze(0)
        return image, int(self.labels[i])


def course_loader(data: fashion_mnist.FashionMNIST, batch_size: int, num_workers: int) -> DataLoader:
    """``DataLoader(dataset, batch_size, shuffle=True, num_workers)`` with the defaults otherwise."""
    dataset = FashionMNISTImages(data.train_images.numpy(), data.train_labels.numpy())
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                      generator=torch.Generator().manual_seed(SEED))


def plain_epoch(net: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], optimizer: torch.optim.Optimizer,
                device: torch.device) -> float:
    """The course's loop over one epoch; returns the mean loss (summed on the device, read once)."""
    net.train()
    loss_sum, count = torch.zeros((), device=device), 0
    for X, y in batches:
        X, y = X.to(device), y.to(device)
        loss = F.cross_entropy(net(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(y)
        count += len(y)
    return loss_sum.item() / count


# ---- the three sides ------------------------------------------------------------------------


def new_model(model: str, device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The benchmark's model and optimizer, seeded so that every side starts alike."""
    build, _, lr, _ = MODELS[model]
    torch.manual_seed(SEED)
    net = build().to(device)
    return net, torch.optim.SGD(net.parameters(), lr=lr)


def baseline_side(data: fashion_mnist.FashionMNIST, args: argparse.Namespace,
                  device: torch.device) -> tuple[EpochFn, nn.Module]:
    """The course's pipeline: per-sample Dataset, DataLoader with workers, plain loop."""
    net, optimizer = new_model(args.model, device)
    loader = course_loader(data, args.batch_size, args.num_workers)
    return (lambda epoch: plain_epoch(net, loader, optimizer, device)), net


def tensor_loop_side(train: TensorLoader, model: str, device: torch.device) -> tuple[EpochFn, nn.Module]:
    """The plain loop over the batches of divelab's TensorLoader (the same batches the trainer sees)."""
    net, optimizer = new_model(model, device)
    return (lambda epoch: plain_epoch(net, train.batches(epoch), optimizer, device)), net


def divelab_side(train: TensorLoader, model: str, device: torch.device, precision: str,
                 compile: bool = False) -> tuple[EpochFn, Trainer]:
    """One epoch = one more ``fit()`` of a trainer whose ``epochs`` grows by one each call."""
    net, optimizer = new_model(model, device)
    if model == "lenet":  # what divelab's train_classifier does with a convolutional network
        net = net.to(memory_format=torch.channels_last)
    trainer = Trainer(net, F.cross_entropy, optimizer, train, epochs=0, progress=False, precision=precision,
                      compile=compile)

    def epoch_fn(epoch: int) -> float:
        trainer.epochs = epoch
        return trainer.fit()[-1]["train_loss"]

    return epoch_fn, trainer


# ---- timing -----------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer sees all of it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: EpochFn, epoch: int, device: torch.device) -> tuple[float, float]:
    """(seconds, mean loss) of ``fn(epoch)``, the device drained before and after."""
    sync(device)
    start = time.perf_counter()
    loss = fn(epoch)
    sync(device)
    return time.perf_counter() - start, loss


def run_interleaved(sides: dict[str, EpochFn], warmup: int, epochs: int,
                    device: torch.device) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Epoch 1, 2, … of every side in turn, the order rotated each epoch (A B C, B C A, …).

    Returns each side's epoch times after ``warmup`` and its last epoch's mean loss.
    """
    times: dict[str, list[float]] = {name: [] for name in sides}
    losses: dict[str, float] = {}
    names = list(sides)
    for epoch in range(1, warmup + epochs + 1):
        counted = epoch > warmup
        shift = (epoch - 1) % len(names)  # rotate, so that no side always runs right after another
        for name in names[shift:] + names[:shift]:
            seconds, losses[name] = timed(sides[name], epoch, device)
            if counted:
                times[name].append(seconds)
            log(f"epoch {epoch}{'' if counted else ' (warm-up)'}  {name:<11} {seconds:7.3f} s  "
                f"loss {losses[name]:.4f}")
    return times, losses


def record_epoch_seconds(trainer: Trainer, epochs: int) -> list[float]:
    """The trainer's own per-epoch seconds of the last ``epochs`` epochs (from cumulative ``seconds``)."""
    cumulative = [0.0] + [r["seconds"] for r in trainer.history]
    return [round(b - a, 4) for a, b in zip(cumulative, cumulative[1:])][-epochs:]


# ---- report -------------------------------------------------------------------------------


def summary(args: argparse.Namespace, device: torch.device, data: fashion_mnist.FashionMNIST,
            times: dict[str, list[float]], losses: dict[str, float], trainer: Trainer,
            test_acc: dict[str, float], total_s: float) -> dict[str, Any]:
    n = len(data.train_images)
    median = {name: statistics.median(t) for name, t in times.items()}
    ratio = median["baseline"] / median["divelab"]
    _, description, lr, target = MODELS[args.model]
    return {
        "benchmark": "trainer_vs_dataloader",
        "model": description,
        "optimizer": f"SGD(lr={lr})",
        "loss": "F.cross_entropy",
        "data": f"Fashion-MNIST train, {n} images ({data.source})",
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "num_workers": args.num_workers,
        "persistent_workers": False,
        "worker_start_method": multiprocessing.get_start_method() if args.num_workers else None,
        "epochs": args.epochs,
        "warmup": args.warmup,
        "baseline_epoch_s": round(median["baseline"], 4),
        "tensor_loop_epoch_s": round(median["tensor_loop"], 4),
        "divelab_epoch_s": round(median["divelab"], 4),
        "epochs_s": {name: [round(s, 4) for s in t] for name, t in times.items()},
        "divelab_record_epochs_s": record_epoch_seconds(trainer, args.epochs),
        "samples_per_s": {name: round(n / m) for name, m in median.items()},
        "ratio": round(ratio, 3),
        "ratio_tensor_loop": round(median["baseline"] / median["tensor_loop"], 3),
        "trainer_overhead": round(median["divelab"] / median["tensor_loop"] - 1, 4),
        "target_ratio": target,
        "meets_target": ratio >= target,
        "final_train_loss": {name: round(loss, 4) for name, loss in losses.items()},
        "test_acc": {name: round(acc, 4) for name, acc in test_acc.items()},
        "machine": machine.facts(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device) if device.type != "cuda" else f"{device} ({torch.cuda.get_device_name(device)})",
        "cpus": len(os.sched_getaffinity(0)),
        "total_s": round(total_s, 2),
    }


def main(argv: list[str] | None = None) -> None:
    start = time.perf_counter()
    args = parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    # torch warns (twice per epoch) when workers outnumber CPUs; that is the point here, say it once
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    data, train, test = fashion_mnist.loaders(args.batch_size, SEED, device, args.data_dir)
    log(f"Fashion-MNIST from {data.source}; {len(data.train_images)} training images, device {device}, "
        f"{torch.get_num_threads()} threads, {args.num_workers} DataLoader workers "
        f"on {len(os.sched_getaffinity(0))} CPUs, restarted every epoch")
    # auto: as `divelab run MODEL` decides (bf16 only where the experiment opted in and the device is fast at it)
    precision, reason = choose(args.precision, device, get_experiment(args.model).bf16)
    log(f"divelab side: {precision} ({reason})")
    divelab_fn, trainer = divelab_side(train, args.model, device, precision, args.compile)
    (baseline_fn, baseline_net), (loop_fn, loop_net) = baseline_side(data, args, device), \
        tensor_loop_side(train, args.model, device)
    sides = {"baseline": baseline_fn, "tensor_loop": loop_fn, "divelab": divelab_fn}
    times, losses = run_interleaved(sides, args.warmup, args.epochs, device)
    nets = {"baseline": baseline_net, "tensor_loop": loop_net, "divelab": trainer.model}
    test_acc = {name: evaluate(net, test, F.cross_entropy, classification=True)["acc"] for name, net in nets.items()}
    report = summary(args, device, data, times, losses, trainer, test_acc, time.perf_counter() - start)
    print(json.dumps(report | {"divelab_precision": {"used": precision, "reason": reason},
                               "divelab_compile": args.compile}, indent=2))


if __name__ == "__main__":
    main()
