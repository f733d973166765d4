"""Mutant: range(k - 1): the last fold is never held out."""

import numpy as np
import torch
from torch import Tensor

HINT = "kfold-rounds"


def kfold_indices(n: int, k: int, shuffle: bool = False, seed: int | None = None) -> list[tuple[Tensor, Tensor]]:
    folds = np.array_split(np.random.RandomState(seed).permutation(n) if shuffle else np.arange(n), k)
    rounds = []
    for j in range(k - 1):
        val = torch.from_numpy(np.sort(folds[j]))
        train = torch.from_numpy(np.sort(np.concatenate(folds[:j] + folds[j + 1:])))
        rounds.append((train, val))
    return rounds
