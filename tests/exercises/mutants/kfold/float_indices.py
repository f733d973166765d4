"""Mutant: collects the training indices onto torch.tensor([]), a float32 tensor, so they come out float."""

import numpy as np
import torch
from torch import Tensor

HINT = "kfold-dtype"


def kfold_indices(n: int, k: int, shuffle: bool = False, seed: int | None = None) -> list[tuple[Tensor, Tensor]]:
    order = np.random.RandomState(seed).permutation(n) if shuffle else np.arange(n)
    folds = [torch.from_numpy(np.sort(f)) for f in np.array_split(order, k)]
    rounds = []
    for j, val in enumerate(folds):
        train = torch.tensor([])
        for i, other in enumerate(folds):
            if i != j:
                train = torch.cat([train, other])
        rounds.append((train.sort().values, val))
    return rounds
