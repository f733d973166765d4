"""K-fold cross-validation indices: every sample is validated on exactly once.

The ``n`` samples are cut into ``k`` consecutive folds; round ``j`` holds fold ``j`` out
for validation and trains on the other ``k − 1``. Averaging the ``k`` validation scores
estimates how well a setting generalises while still training on most of the data — the
course's way to choose a hyperparameter when data is scarce.

Twin: ``sklearn.model_selection.KFold(n_splits=k, shuffle=shuffle, random_state=seed)``,
whose ``split`` yields the same folds in the same order (see :func:`kfold_indices`).
"""

from __future__ import annotations

import operator

import numpy as np
import torch
from torch import Tensor


def fold_sizes(n: int, k: int) -> list[int]:
    """Sizes of the ``k`` folds of ``n`` samples: ``n // k`` each, one more for the first ``n % k``."""
    return [n // k + (1 if j < n % k else 0) for j in range(k)]


def _check(n: int, k: int, shuffle: bool, seed: int | None) -> tuple[int, int]:
    n, k = operator.index(n), operator.index(k)  # rejects 2.0, "2"; accepts numpy integers
    if k < 2:
        raise ValueError(f"k-fold cross-validation needs k ≥ 2 folds, got k={k}")
    if k > n:
        raise ValueError(f"cannot cut n={n} samples into k={k} folds; need k ≤ n")
    if seed is not None and not shuffle:
        raise ValueError("a seed has no effect without shuffle; pass shuffle=True or leave seed=None")
    return n, k


def kfold_indices(n: int, k: int, shuffle: bool = False, seed: int | None = None) -> list[tuple[Tensor, Tensor]]:
    """The ``k`` rounds ``(train_idx, val_idx)`` of K-fold cross-validation over ``n`` samples.

    - Fold sizes: ``n // k``, and the first ``n % k`` folds get one sample more.
    - Without ``shuffle`` fold ``j`` is the contiguous block of indices that follows fold
      ``j − 1``. With ``shuffle`` the indices are first permuted by
      ``np.random.RandomState(seed).permutation(n)`` and cut into blocks in that order;
      ``seed=None`` draws a fresh, unreproducible permutation.
    - Both index tensors (int64) are sorted ascending; ``val_idx`` of the ``k`` rounds
      cover ``0 … n − 1`` exactly once and ``train_idx`` is the rest.

    Equal to scikit-learn's ``KFold(k, shuffle=shuffle, random_state=seed).split`` for an
    integer ``seed`` by design: scikit-learn shuffles ``np.arange(n)`` in place with
    ``np.random.RandomState(seed).shuffle``, which is what ``permutation(n)`` does, and it
    returns each fold's indices in ascending order too. Like scikit-learn, a ``seed``
    without ``shuffle`` is an error rather than silently ignored.
    """
    n, k = _check(n, k, shuffle, seed)
    order = np.random.RandomState(seed).permutation(n) if shuffle else np.arange(n)
    order = torch.from_numpy(order).to(torch.int64)
    everything = torch.arange(n)
    rounds = []
    start = 0
    for size in fold_sizes(n, k):
        val_idx = order[start:start + size].sort().values
        in_train = torch.ones(n, dtype=torch.bool)
        in_train[val_idx] = False
        rounds.append((everything[in_train], val_idx))
        start += size
    return rounds
