"""Do an experiment's results in bf16 stay within seed-to-seed noise of fp32? And how much faster is it?

For each experiment, every seed is run in fp32 and in bf16 (``--set precision=…``, the
default settings otherwise), the precisions alternating seed by seed so that drifting
machine load hits both alike. Per precision: the headline metric per seed, its mean and
sample standard deviation, and the training seconds. The verdict ``within_noise`` holds when
the two means differ by no more than ``tolerance`` × the larger of the two seed spreads (and
an absolute floor, ``--floor``, for metrics that barely move between seeds): that is the test
an experiment passes before ``precision=auto`` may train it in bf16
(``Experiment(bf16=True)``). Progress on stderr; stdout gets ONE JSON object::

    .venv/bin/python benchmarks/bf16_parity.py --experiments mlp lenet resnet [--seeds 0 1 2] \\
        [--metric test_acc] [--set epochs=3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from timing import log

import divelab
from divelab import machine
from divelab.runner import get_experiment


def runs(name: str, seeds: list[int], metric: str, settings: dict[str, str], root: Path,
         also: list[str]) -> dict[str, Any]:
    results: dict[str, dict[str, list[Any]]] = {p: {"metric": [], "seconds": [], **{k: [] for k in also}}
                                                for p in ("fp32", "bf16")}
    for seed in seeds:
        for precision, record in results.items():
            out = root / f"{name}-{precision}-{seed}"
            summary = divelab.run(name, out=out, progress=False, seed=seed, precision=precision, **settings).summary
            record["metric"].append(summary[metric])
            record["seconds"].append(summary["seconds"])
            for key in also:
                record[key].append(summary.get(key))
            log(f"{name} seed {seed} {precision}: {metric} {summary[metric]:.4f} in {summary['seconds']:.1f} s")
    return results


def verdict(results: dict[str, dict[str, list[float]]], tolerance: float, floor: float) -> dict[str, Any]:
    def spread(values: list[float]) -> float:
        return statistics.stdev(values) if len(values) > 1 else 0.0

    fp32, bf16 = results["fp32"], results["bf16"]
    difference = statistics.fmean(bf16["metric"]) - statistics.fmean(fp32["metric"])
    noise = max(spread(fp32["metric"]), spread(bf16["metric"]), floor)
    return {"fp32": fp32["metric"], "bf16": bf16["metric"],
            "fp32_mean": statistics.fmean(fp32["metric"]), "bf16_mean": statistics.fmean(bf16["metric"]),
            "difference": difference, "seed_spread": noise, "within_noise": abs(difference) <= tolerance * noise,
            "fp32_seconds": fp32["seconds"], "bf16_seconds": bf16["seconds"],
            "bf16_speedup": statistics.fmean(fp32["seconds"]) / statistics.fmean(bf16["seconds"]),
            **{f"{p}_{k}": v for p in ("fp32", "bf16") for k, v in results[p].items() if k not in ("metric", "seconds")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", nargs="+", default=["mlp", "lenet", "resnet"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--metric", default="test_acc", help="the summary key compared")
    parser.add_argument("--tolerance", type=float, default=2.0, help="allowed difference, in seed spreads")
    parser.add_argument("--floor", type=float, default=0.002, help="smallest seed spread assumed")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="other settings")
    parser.add_argument("--also", nargs="+", action="extend", default=[], metavar="KEY",
                        help="other summary keys to report per run (repeatable)")
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.set)
    report: dict[str, Any] = {"benchmark": "bf16_parity", "machine": machine.facts("cpu"), "seeds": args.seeds,
                              "metric": args.metric, "tolerance": args.tolerance, "settings": settings}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.experiments:
            get_experiment(name)  # a misspelt name fails before anything runs
            report[name] = verdict(runs(name, args.seeds, args.metric, settings, Path(tmp), args.also),
                                   args.tolerance, args.floor)
            log(f"{name}: {json.dumps(report[name])}")  # kept on stderr should a later experiment not finish
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
