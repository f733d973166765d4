"""Mutant: shuffles with torch.randperm under torch.manual_seed(seed), not scikit-learn's
np.random.RandomState(seed).permutation(n)."""

import torch
from torch import Tensor

HINT = "kfold-shuffle"


def kfold_indices(n: int, k: int, shuffle: bool = False, seed: int | None = None) -> list[tuple[Tensor, Tensor]]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed or 0)) if shuffle else torch.arange(n)
    sizes = [n // k + (1 if j < n % k else 0) for j in range(k)]
    rounds, start = [], 0
    for size in sizes:
        val = order[start:start + size].sort().values
        keep = torch.ones(n, dtype=torch.bool)
        keep[val] = False
        rounds.append((torch.arange(n)[keep], val))
        start += size
    return rounds
