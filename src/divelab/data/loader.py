"""Minibatches from tensors held in memory, chosen by index — no per-sample Python.

The shuffling order of epoch ``e`` depends only on ``(seed, e)``, so a run resumed at any
epoch (or any batch within one) sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator whose state is a function of ``(seed, epoch)`` only."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


class TensorLoader:
    """Iterate over minibatches of equally long tensors, e.g. ``TensorLoader(x, y, batch_size=256)``.

    The tensors are moved to ``device`` once, at construction; each batch is then an
    index-select on that device. With ``shuffle`` every epoch gets a fresh permutation from
    :func:`epoch_generator`; ``drop_last`` skips a final short batch.
    """

    def __init__(self, *tensors: Tensor, batch_size: int, shuffle: bool = False,
                 drop_last: bool = False, seed: int = 0, device: torch.device | str | None = None):
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError(f"tensors differ in length: {[len(t) for t in tensors]}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.tensors = tuple(t.to(device) if device is not None else t for t in tensors)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed

    @property
    def num_samples(self) -> int:
        return len(self.tensors[0])

    def __len__(self) -> int:
        """Number of batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)

    def order(self, epoch: int) -> Tensor:
        """The sample indices of ``epoch`` in the order they are visited."""
        if not self.shuffle:
            return torch.arange(self.num_samples)
        return torch.randperm(self.num_samples, generator=epoch_generator(self.seed, epoch))

    def batch_indices(self, epoch: int = 0, start: int = 0) -> Iterator[Tensor]:
        """The sample indices of each batch of ``epoch`` (on the tensors' device), from batch ``start`` on."""
        order = self.order(epoch).to(self.tensors[0].device)
        for i in range(start, len(self)):
            yield order[i * self.batch_size:(i + 1) * self.batch_size]

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Tensor, ...]]:
        """The batches of ``epoch``, beginning with batch number ``start``."""
        for idx in self.batch_indices(epoch, start):
            yield tuple(t[idx] for t in self.tensors)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        return self.batches()


def split(*tensors: Tensor, val_size: int, seed: int = 0) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """Randomly split equally long tensors into ``(train, validation)`` parts.

    ``val_size`` samples go to validation; the split depends only on ``seed``.
    """
    n = len(tensors[0])
    if not 0 < val_size < n:
        raise ValueError(f"val_size must be between 1 and {n - 1}, got {val_size}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    return tuple(t[train_idx] for t in tensors), tuple(t[val_idx] for t in tensors)
