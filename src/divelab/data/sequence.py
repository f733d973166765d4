"""Minibatches of token subsequences for language models, random or sequential (d2l §9.3).

From a stream of token ids ``c_0, c_1, …`` each batch is ``(x, y)`` of shape
``(batch_size, num_steps)`` with ``y[b, t] = c_{s+t+1}`` where ``x[b, t] = c_{s+t}``: the
target is the input shifted by one token.

Each epoch starts the cut at a random offset ``o ∈ [0, num_steps)``, so over the epochs the
model sees every split of the text into subsequences. Then

- **random** partitioning cuts the stream from ``o`` into subsequences of ``num_steps``
  tokens and shuffles them: batches are unrelated, no token is in two subsequences;
- **sequential** partitioning lays the stream from ``o`` out as ``batch_size`` contiguous
  rows and walks through them ``num_steps`` columns at a time: row ``b`` of batch ``i + 1``
  continues row ``b`` of batch ``i`` exactly, so a model may carry its hidden state (detached)
  from one batch to the next.

The number of batches per epoch is the same for every offset (the one the largest offset
allows); the tail of the stream that does not fill a whole batch is left out. The offset
and the order of epoch ``e`` depend only on ``(seed, e)`` (:func:`loader.epoch_generator`),
so a resumed run sees exactly the batches of an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from torch import Tensor

from divelab.data.loader import epoch_generator

Partition = Literal["random", "sequential"]


class SequenceLoader:
    """Batches ``(x, y)`` of ``num_steps`` consecutive token ids; a drop-in for :class:`TensorLoader`.

    ``ids`` (1-D) is moved to ``device`` once; every batch is then an indexing of it there.
    """

    def __init__(self, ids: Tensor, batch_size: int, num_steps: int, partition: Partition,
                 seed: int = 0, device: torch.device | str | None = None):
        if ids.dim() != 1 or ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise ValueError(f"ids must be a 1-D tensor of integer token ids, got shape {tuple(ids.shape)} "
                             f"of {ids.dtype}")
        if batch_size < 1 or num_steps < 1:
            raise ValueError(f"batch_size and num_steps must be ≥ 1, got {batch_size} and {num_steps}")
        if partition not in ("random", "sequential"):
            raise ValueError(f"partition must be 'random' or 'sequential', got {partition!r}")
        needed = num_steps * (batch_size + 1)
        if len(ids) < needed:
            raise ValueError(f"{len(ids)} tokens are too few for one batch of {batch_size} × {num_steps}: "
                             f"it takes at least num_steps × (batch_size + 1) = {needed} tokens")
        ids = ids.to(torch.int64)
        self.tensors = (ids.to(device) if device is not None else ids,)
        self.batch_size, self.num_steps, self.partition, self.seed = batch_size, num_steps, partition, seed
        # the largest offset o = T − 1 leaves N − T tokens that have a successor
        self._num_batches = (len(ids) - num_steps) // (num_steps * batch_size)

    @property
    def num_samples(self) -> int:
        """Subsequences per epoch (``batch_size`` per batch)."""
        return self._num_batches * self.batch_size

    def __len__(self) -> int:
        """Batches per epoch."""
        return self._num_batches

    def starts(self, epoch: int) -> Tensor:
        """Start positions ``(batches, batch_size)`` of the subsequences of ``epoch``, batch by batch."""
        gen = epoch_generator(self.seed, epoch)
        offset = int(torch.randint(self.num_steps, (1,), generator=gen))
        n, b, t = self._num_batches, self.batch_size, self.num_steps
        if self.partition == "random":
            order = torch.randperm(n * b, generator=gen)
            return offset + t * order.view(n, b)
        # sequential: row r is the stretch [o + r·n·T, o + (r+1)·n·T); batch i takes its columns i·T …
        rows = offset + torch.arange(b) * (n * t)
        return rows[None, :] + t * torch.arange(n)[:, None]

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches ``(x, y)`` of ``epoch``, beginning with batch number ``start``."""
        ids = self.tensors[0]
        starts = self.starts(epoch).to(ids.device)
        steps = torch.arange(self.num_steps, device=ids.device)
        for i in range(start, len(self)):
            index = starts[i][:, None] + steps  # (B, 1) + (T,) -> (B, T)
            yield ids[index], ids[index + 1]

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self.batches()
