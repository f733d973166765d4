"""Mutant: trains on the fold after the validation fold only, not on all the others."""

import numpy as np
import torch
from torch import Tensor

HINT = "kfold-train"


def kfold_indices(n: int, k: int, shuffle: bool = False, seed: int | None = None) -> list[tuple[Tensor, Tensor]]:
    folds = np.array_split(np.random.RandomState(seed).permutation(n) if shuffle else np.arange(n), k)
    return [(torch.from_numpy(np.sort(folds[(j + 1) % k])), torch.from_numpy(np.sort(folds[j]))) for j in range(k)]
