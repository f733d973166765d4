"""Mutant: shuffled folds keep the permutation's order instead of being sorted ascending."""

import numpy as np
import torch
from torch import Tensor

HINT = "kfold-shuffle"


def kfold_indices(n: int, k: int, shuffle: bool = False, seed: int | None = None) -> list[tuple[Tensor, Tensor]]:
    order = torch.from_numpy(np.random.RandomState(seed).permutation(n)) if shuffle else torch.arange(n)
    sizes = [n // k + (1 if j < n % k else 0) for j in range(k)]
    rounds, start = [], 0
    for size in sizes:
        val = order[start:start + size]
        train = torch.cat([order[:start], order[start + size:]])
        rounds.append((train, val))
        start += size
    return rounds
