"""Epoch time and accuracy of fp32 eager vs bf16 autocast vs ``torch.compile`` vs both.

Each experiment (default ``lenet-modern`` and ``resnet``, their CPU presets, weights in
channels-last layout as ``train_classifier`` lays out every CNN) is run with
``divelab.run`` once per variant, with the same seed and settings otherwise:

``fp32``          plain float32, eager;
``bf16``          ``--set precision=bf16`` (autocast of the forward pass to bfloat16);
``compile``       ``--set compile=true`` (``torch.compile``, the inductor backend);
``bf16+compile``  both;
and on a CUDA device also ``fp16`` and ``fp16+compile`` (float16 with a grad scaler).

Per variant it reports every epoch's training time (``train_seconds`` of the trainer: the
batch loop alone, without evaluation), ``first_epoch_s`` (which holds the compilation for
compiled variants), ``steady_epoch_s`` (median of the later epochs; ``null`` with one
epoch), ``speedup`` = fp32's epoch time / this one's (steady times where there are, first
epochs otherwise) and ``test_acc`` after the same number of epochs. The variants run one
after another, so drift in the machine's load hits them unequally: on a shared machine
read small differences as noise.

``--train-size``/``--test-size`` take the first N images of each split (written as IDX
files to a temporary directory), for a brief run. Progress goes to stderr; stdout gets
ONE JSON object::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/precision_compile.py --epochs 1 \\
        [--experiments lenet-modern resnet] [--train-size 6000] [--test-size 2000] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import divelab
from divelab import machine
from divelab.data import fashion_mnist
from divelab.data.idx import write_idx

CPU_VARIANTS = {"fp32": {}, "bf16": {"precision": "bf16"}, "compile": {"compile": True},
                "bf16+compile": {"precision": "bf16", "compile": True}}
CUDA_VARIANTS = {**CPU_VARIANTS, "fp16": {"precision": "fp16"}, "fp16+compile": {"precision": "fp16", "compile": True}}


def subset_dir(directory: Path, train_size: int | None, test_size: int | None, data_dir: str | None) -> str | None:
    """A data directory holding the first ``train_size`` / ``test_size`` images (None: all of them)."""
    if train_size is None and test_size is None:
        return data_dir
    data = fashion_mnist.load(data_dir)
    for split, images, labels, n in (("train", data.train_images, data.train_labels, train_size),
                                      ("t10k", data.test_images, data.test_labels, test_size)):
        n = len(images) if n is None else n
        write_idx(directory / f"{split}-images-idx3-ubyte", images[:n].numpy())
        write_idx(directory / f"{split}-labels-idx1-ubyte", labels[:n].numpy().astype(np.uint8))
    return str(directory)


def run_variant(experiment: str, variant: dict[str, Any], args: argparse.Namespace, data_dir: str | None,
                out: Path) -> dict[str, Any]:
    torch._dynamo.reset()  # every compiled variant compiles from nothing
    start = time.perf_counter()
    result = divelab.run(experiment, out=out, progress=False, epochs=args.epochs, seed=args.seed,
                         device=args.device, data_dir=data_dir, **variant)
    epochs = [r["train_seconds"] for r in result.history]
    return {"epoch_s": epochs, "first_epoch_s": epochs[0],
            "steady_epoch_s": statistics.median(epochs[1:]) if len(epochs) > 1 else None,
            "test_acc": result.summary.get("test_acc"), "train_loss": result.summary.get("train_loss"),
            "wall_s": round(time.perf_counter() - start, 2)}


def add_speedups(rows: dict[str, dict[str, Any]]) -> None:
    base = rows["fp32"]
    key = "steady_epoch_s" if base["steady_epoch_s"] is not None else "first_epoch_s"
    for row in rows.values():
        row["speedup"] = round(base[key] / row[key], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", nargs="+", default=["lenet-modern", "resnet"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir")
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--test-size", type=int)
    parser.add_argument("--variants", nargs="+", help="a subset of the variants, by name")
    args = parser.parse_args()
    variants = CUDA_VARIANTS if args.device.startswith("cuda") else CPU_VARIANTS
    if args.variants:
        variants = {name: variants[name] for name in ["fp32", *args.variants] if name in variants}

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = subset_dir(Path(tmp), args.train_size, args.test_size, args.data_dir)
        for experiment in args.experiments:
            rows = {}
            for name, variant in variants.items():
                print(f"{experiment} {name} …", file=sys.stderr, flush=True)
                rows[name] = run_variant(experiment, variant, args, data_dir, Path(tmp) / f"{experiment}-{name}")
                print(f"  {json.dumps(rows[name])}", file=sys.stderr, flush=True)
            add_speedups(rows)
            results[experiment] = rows
    print(json.dumps({
        "benchmark": "precision_compile", "epochs": args.epochs, "device": args.device,
        "train_size": args.train_size, "test_size": args.test_size, "seed": args.seed,
        "threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "torch": torch.__version__, "python": platform.python_version(), "machine": machine.facts(args.device),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
