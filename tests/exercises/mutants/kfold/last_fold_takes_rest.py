"""Mutant: folds of n // k with the last one taking the remainder (not the first n % k one larger)."""

import numpy as np
import torch
from torch import Tensor

HINT = "kfold-sizes"


def kfold_indices(n: int, k: int, shuffle: bool = False, seed: int | None = None) -> list[tuple[Tensor, Tensor]]:
    order = torch.from_numpy(np.random.RandomState(seed).permutation(n)) if shuffle else torch.arange(n)
    size = n // k
    rounds = []
    for j in range(k):
        stop = n if j == k - 1 else (j + 1) * size
        val = order[j * size:stop].sort().values
        keep = torch.ones(n, dtype=torch.bool)
        keep[val] = False
        rounds.append((torch.arange(n)[keep], val))
    return rounds
