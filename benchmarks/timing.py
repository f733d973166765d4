"""What the side-by-side micro-benchmarks share: progress lines on stderr, draining the device,
timing a call, alternating the sides call by call (so drifting machine load hits every side
alike), and the relative difference of their results. Imported by the scripts beside it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import torch


def log(message: str) -> None:
    """A progress line, on stderr (stdout carries only the JSON)."""
    print(message, file=sys.stderr, flush=True)


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a timer sees all of it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """(seconds, result) of ``fn()``, the device drained before and after."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


def run_alternating(fns: dict[str, Callable[[], Any]], warmup: int, repeats: int,
                    device: torch.device) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Call every side in turn ``warmup + repeats`` times; the timed calls' seconds and each side's last result."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, Any] = {}
    for i in range(warmup + repeats):
        for name, fn in fns.items():
            seconds, results[name] = timed(fn, device)
            if i >= warmup:
                times[name].append(seconds)
    return times, results


def max_rel_diff(a: Any, b: Any) -> float:
    """``max |a − b| / max |b|`` of a tensor, or the largest over pairs of tensors."""
    pairs = zip(a, b) if isinstance(a, tuple) else [(a, b)]
    return max(((x - y).abs().max() / y.abs().max()).item() for x, y in pairs)

