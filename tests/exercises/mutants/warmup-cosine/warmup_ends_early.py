"""Mutant: off by one at the end of the warm-up — counts warm-up updates from 1, so the ramp
reaches base_lr at t = W − 1 instead of t = W."""

import math
from collections.abc import Callable

HINT = "warmup-cosine-warm-up"


def warmup_cosine(base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0,
                  start_factor: float | None = None) -> Callable[[int], float]:
    s = 1 / (warmup_steps + 1) if start_factor is None else start_factor

    def lr_at(t: int) -> float:
        if t < warmup_steps:
            return base_lr * (s + (1 - s) * (t + 1) / warmup_steps)
        if t >= total_steps:
            return min_lr
        progress = (t - warmup_steps) / (total_steps - warmup_steps)
        return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2

    return lr_at
