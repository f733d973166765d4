"""How OpenMP's idle threads (``OMP_WAIT_POLICY``) change the speed of a recurrent language model.

A training step of the ``lstm`` experiment's model (256-unit ``nn.LSTM``, embedding 32,
71 characters; batch 32 × 32 steps; Adam, clipping at 1) is timed in child processes that
differ only in ``OMP_WAIT_POLICY``: unset (the OpenMP runtime's default: idle threads spin
a while before sleeping), ``ACTIVE`` (they spin) and ``PASSIVE`` (they sleep at once).
An LSTM step is ~32 × 3 small matrix products in a row, each a parallel region, so a
thread that must be woken for every one of them costs much of the step. The children take
turns, ``--rounds`` times each, so drifting machine load hits all alike.

    .venv/bin/python benchmarks/omp_wait_policy.py [--rounds 3] [--seconds 4] [--threads N]

Progress lines go to stderr; stdout gets ONE JSON object: per policy, the median ms per step
and characters per second, and each policy's time relative to the default.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import torch

from divelab import machine

from timing import log  # benchmarks/timing.py

POLICIES = {"default": None, "active": "ACTIVE", "passive": "PASSIVE"}
BATCH, STEPS, HIDDEN, EMBED, VOCAB = 32, 32, 256, 32, 71


def child(seconds: float) -> float:
    """Seconds per training step, timed for about ``seconds`` after 5 warm-up steps."""
    from divelab.models.rnn_lm import RNNLM, sequence_cross_entropy

    torch.manual_seed(0)
    model = RNNLM(VOCAB, "lstm", HIDDEN, embed_size=EMBED)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = torch.randint(VOCAB, (BATCH, STEPS)), torch.randint(VOCAB, (BATCH, STEPS))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        sequence_cross_entropy(model(x), y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for _ in range(5):
        step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    return (time.perf_counter() - start) / steps


def measure(policy: str | None, args: argparse.Namespace) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    out = subprocess.run([sys.executable, __file__, "--child", str(args.seconds)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="timings per policy, taken in turns (default 3)")
    parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per child (default 4)")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of the children "
                                                                  "(default: inherited)")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(child(args.child))
        sys.exit(0)
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be ≥ 1 and --seconds > 0")
    times: dict[str, list[float]] = {name: [] for name in POLICIES}
    for r in range(args.rounds):
        for name, policy in POLICIES.items():
            times[name].append(measure(policy, args))
            log(f"round {r + 1}/{args.rounds} {name}: {1e3 * times[name][-1]:.1f} ms/step")
    median = {name: statistics.median(t) for name, t in times.items()}
    return {"benchmark": "omp_wait_policy", "model": f"LSTM {HIDDEN} units, embedding {EMBED}, vocabulary {VOCAB}",
            "batch": BATCH, "num_steps": STEPS, "rounds": args.rounds,
            "results": {name: {"ms_per_step": 1e3 * median[name], "chars_per_s": BATCH * STEPS / median[name],
                               "relative_to_default": median[name] / median["default"]} for name in POLICIES},
            "threads": args.threads or os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)),
            "torch": torch.__version__, "machine": machine.facts("cpu")}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
