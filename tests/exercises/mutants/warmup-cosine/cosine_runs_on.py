"""Mutant: lets the cosine run on past total_steps (as torch's CosineAnnealingLR does), so the lr climbs back."""

import math
from collections.abc import Callable

HINT = "warmup-cosine-after"


def warmup_cosine(base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0,
                  start_factor: float | None = None) -> Callable[[int], float]:
    s = 1 / (warmup_steps + 1) if start_factor is None else start_factor

    def lr_at(t: int) -> float:
        if t < warmup_steps:
            return base_lr * (s + (1 - s) * t / warmup_steps)
        progress = (t - warmup_steps) / max(total_steps - warmup_steps, 1)
        return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2

    return lr_at
