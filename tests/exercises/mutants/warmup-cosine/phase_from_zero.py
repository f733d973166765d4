"""Mutant: the cosine's phase counts from t = 0 over the whole run, π t / T, instead of from the end of the warm-up."""

import math
from collections.abc import Callable

HINT = "warmup-cosine-decay"


def warmup_cosine(base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0,
                  start_factor: float | None = None) -> Callable[[int], float]:
    s = 1 / (warmup_steps + 1) if start_factor is None else start_factor

    def lr_at(t: int) -> float:
        if t < warmup_steps:
            return base_lr * (s + (1 - s) * t / warmup_steps)
        if t >= total_steps:
            return min_lr
        return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * t / total_steps)) / 2

    return lr_at
