"""Data-parallel training across processes started by ``torchrun`` (``torch.distributed``, DDP).

``torchrun --nproc_per_node 2 -m divelab run lenet`` starts two processes and tells each
its place through the environment (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, plus
``MASTER_ADDR``/``MASTER_PORT`` for the rendezvous). Every process runs the whole
experiment with the same seed, so data and initial weights agree everywhere; the
:class:`~divelab.train.trainer.Trainer` then

- wraps the model in ``DistributedDataParallel`` (gradients averaged by all-reduce),
- gives process ``r`` of ``W`` the rows ``[⌊r·n/W⌋, ⌊(r+1)·n/W⌋)`` of every batch of ``n``
  (:class:`ShardedLoader`): ``batch_size`` stays the *global* batch, so one process and
  many see the same batches in the same order, reshuffled every epoch from ``(seed, epoch)``,
- weights each process's mean loss by ``W·t_r/t`` (``t`` the terms the loss averages: the
  samples, or e.g. the target tokens of a translation batch; ``t_r`` this process's), so the
  averaged gradient is the gradient of the global batch's mean even when the shards differ
  in size,
- sums losses, hits and counts over all processes (training and evaluation metrics),
- lets process 0 alone write files, draw figures and show progress.

Twin: ``torch.utils.data.DistributedSampler`` (which shards the *epoch*, each process then
batching its own share; sharding each batch instead keeps batches identical across world
sizes, so a checkpoint taken with one world size resumes exactly with another).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from divelab.errors import UserError


@dataclass(frozen=True)
class World:
    """This process's place among the ``world_size`` processes of a run (one process: 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """Whether there are several processes (collectives needed)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Process 0 writes files and shows progress."""
        return self.rank == 0


SINGLE = World()


def world_from_env(environ: Mapping[str, str] | None = None) -> World:
    """The :class:`World` that ``torchrun`` describes in ``RANK``/``LOCAL_RANK``/``WORLD_SIZE``."""
    env = os.environ if environ is None else environ
    try:
        world_size = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local_rank = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise UserError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (torchrun sets them)") from None
    if world_size < 1 or not 0 <= rank < world_size or local_rank < 0:
        raise UserError(f"inconsistent torchrun environment: RANK={rank}, LOCAL_RANK={local_rank}, "
                        f"WORLD_SIZE={world_size}")
    return World(rank, world_size, local_rank)


def process_device(world: World, device: torch.device) -> torch.device:
    """The device of this process: ``cuda:LOCAL_RANK`` on GPUs, the CPU as is."""
    if not world.enabled:
        return device
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise UserError(f"process {world.rank} wants GPU {world.local_rank}, but this machine has "
                            f"{torch.cuda.device_count()}; give torchrun at most that many --nproc_per_node")
        return torch.device("cuda", world.local_rank)
    if device.type != "cpu":
        raise UserError(f"multi-process training runs on CPUs (gloo) or CUDA GPUs (NCCL), not on {device.type}")
    return device


@contextlib.contextmanager
def process_group(world: World, device: torch.device) -> Iterator[None]:
    """Join the run's process group (gloo on CPUs, NCCL on CUDA GPUs) and leave it at the end."""
    if not world.enabled:
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                            rank=world.rank, world_size=world.world_size)
    try:
        yield
        # every process reaches the end before any tears down: gloo aborted a process (SIGABRT,
        # "terminate called without an active exception") whose peer closed its sockets first
        dist.barrier()
    finally:
        dist.destroy_process_group()


def all_reduce_sum(values: Tensor, world: World) -> Tensor:
    """``Σ_r values_r`` over all processes (in place); unchanged with one process."""
    if world.enabled:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def any_process(flag: bool, world: World, device: torch.device) -> bool:
    """Whether ``flag`` is true in at least one process (every process gets the same answer)."""
    if not world.enabled:
        return flag
    return bool(all_reduce_sum(torch.tensor([float(flag)], device=device), world).item() > 0)


def barrier(world: World) -> None:
    """Wait until every process gets here."""
    if world.enabled:
        dist.barrier()


def fork_rng(world: World) -> None:
    """Give processes 1 … W−1 torch random streams of their own while they train (dropout
    masks must differ between shards), derived from the current stream and the rank;
    process 0 keeps its stream, so it draws what a single process would."""
    if world.rank == 0:
        return
    draw = int(torch.randint(0, 2**62, (1,)).item())
    state = np.random.SeedSequence([draw, world.rank]).generate_state(1, dtype=np.uint64)[0]
    torch.manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


def sync_rng(world: World, device: torch.device) -> None:
    """Give every process process 0's torch random state again (after :func:`fork_rng`), so
    whatever the experiment draws after training (data, a next model) is the same everywhere."""
    if not world.enabled:
        return
    on = device if device.type == "cuda" else torch.device("cpu")  # NCCL moves device tensors only
    state = torch.get_rng_state().to(on)
    dist.broadcast(state, src=0)
    torch.set_rng_state(state.cpu())
    if device.type == "cuda":
        cuda_state = torch.cuda.get_rng_state(device).to(device)
        dist.broadcast(cuda_state, src=0)
        torch.cuda.set_rng_state(cuda_state.cpu(), device)


def shard_bounds(n: int, world: World) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of a batch of ``n`` that belong to this process: ``⌊r·n/W⌋ … ⌊(r+1)·n/W⌋``."""
    return n * world.rank // world.world_size, n * (world.rank + 1) // world.world_size


def _rows(batch: Any, lo: int, hi: int) -> Any:
    """Rows ``lo:hi`` of a tensor, or of each tensor of a (nested) tuple of tensors."""
    if isinstance(batch, tuple):
        return tuple(_rows(t, lo, hi) for t in batch)
    return batch[lo:hi]


class ShardedLoader:
    """This process's rows of every batch of ``loader`` (a ``TensorLoader`` or any loader with
    ``batches(epoch, start)``, ``len()``, ``tensors``, ``num_samples``), split along dim 0.

    ``batch_size`` of the wrapped loader is the global batch; each process takes about
    ``batch_size / W`` rows of it (see :func:`shard_bounds`).
    """

    def __init__(self, loader: Any, world: World):
        self.loader, self.world = loader, world

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return self.loader.tensors

    @property
    def num_samples(self) -> int:
        """Samples per epoch over all processes."""
        return self.loader.num_samples

    def __len__(self) -> int:
        return len(self.loader)

    def sized_batches(self, epoch: int = 0, start: int = 0,
                      size: Callable[[Tensor], Any] = len) -> Iterator[tuple[Any, tuple[Tensor, ...]]]:
        """``(size(y), shard)`` for each batch of ``epoch`` from batch ``start``: ``size`` of the
        whole batch's targets ``y`` (by default its number of samples ``n``; the trainer also
        counts its loss terms) and this process's rows of it (possibly none, when ``n < W``)."""
        for batch in self.loader.batches(epoch, start):
            y = batch[-1]  # the targets: inputs may be a tuple of tensors
            lo, hi = shard_bounds(len(y), self.world)
            yield size(y), tuple(_rows(t, lo, hi) for t in batch)

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[Tensor, ...]]:
        for _, shard in self.sized_batches(epoch, start):
            yield shard

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        return self.batches()
