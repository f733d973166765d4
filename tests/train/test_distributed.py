"""Data-parallel training: shards of every batch, and 2 gloo processes vs 1 process at the same global batch
(a per-sample loss, and a loss averaged over tokens)."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import divelab
from divelab.data import TensorLoader
from divelab.data.sequence import SequenceLoader
from divelab.errors import UserError
from divelab.train.distributed import ShardedLoader, World, process_group, shard_bounds, world_from_env
from tests.train.tokens import PAD, token_trainer

needs_gloo = pytest.mark.skipif(not torch.distributed.is_gloo_available(),
                                reason="the 2-process tests start processes that talk through gloo")


@pytest.mark.parametrize("n", [0, 1, 5, 51, 64])
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_shards_partition_a_batch_in_order(n, world_size):
    bounds = [shard_bounds(n, World(r, world_size)) for r in range(world_size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(hi == lo for (_, hi), (lo, _) in zip(bounds, bounds[1:]))  # contiguous, no overlap
    assert max(hi - lo for lo, hi in bounds) - min(hi - lo for lo, hi in bounds) <= 1  # balanced


@pytest.mark.parametrize("loader", [
    TensorLoader(torch.arange(103.0)[:, None], torch.arange(103), batch_size=20, shuffle=True, seed=4),
    SequenceLoader(torch.arange(400), batch_size=6, num_steps=5, partition="random", seed=2),
], ids=["tensor", "sequence"])
def test_the_shards_of_all_processes_make_up_each_global_batch(loader):
    world_size = 3
    for epoch in (1, 2):
        per_rank = [list(ShardedLoader(loader, World(r, world_size)).sized_batches(epoch, start=1))
                    for r in range(world_size)]
        whole = list(loader.batches(epoch, start=1))
        assert all(len(batches) == len(whole) for batches in per_rank)
        for i, batch in enumerate(whole):
            assert all(per_rank[r][i][0] == len(batch[0]) for r in range(world_size))  # global size known
            for k, tensor in enumerate(batch):
                assert torch.equal(torch.cat([per_rank[r][i][1][k] for r in range(world_size)]), tensor)


def test_world_comes_from_the_torchrun_environment():
    assert world_from_env({}) == World(0, 1, 0)
    assert world_from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"}) == World(3, 4, 1)
    for env in ({"RANK": "4", "WORLD_SIZE": "4"}, {"WORLD_SIZE": "two"}):
        with pytest.raises(UserError, match="torchrun"):
            world_from_env(env)


# ---- two real processes -------------------------------------------------------------------------

SETTINGS = {"epochs": 2, "batch_size": 51, "lr": 0.3, "device": "cpu", "optimizer": "momentum"}


# Fresh interpreters, not forks: children forked from the (multi-threaded) pytest process now
# and then never exited (rank 1 hung after rank 0 had finished; twice in about ten runs).
_SPAWN = multiprocessing.get_context("spawn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    result = divelab.run("softmax", out=out, progress=False, **SETTINGS)
    Path(f"{out}-rank{rank}.json").write_text(json.dumps(result.history))  # what each process saw


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state = json.loads((run_dir / "checkpoint/state.json").read_text())
    tensors = load_file(run_dir / "checkpoint" / state["tensors"])
    return {k: v for k, v in tensors.items() if k.startswith("s.model.")}


@pytest.fixture
def one_thread(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@needs_gloo
def test_two_gloo_processes_match_one_process_at_the_same_global_batch(fake_data, tmp_path, one_thread):
    """512 samples in global batches of 51: shards of 25 and 26 rows (the loss weighting
    matters), a final batch of 2 (1 + 1). Float32 sums in another order: metrics within 1e-5,
    weights within 2e-6 (without the shard weighting the train loss differs by far more)."""
    single = divelab.run("softmax", out=tmp_path / "one", progress=False, **SETTINGS)  # also warms imports
    port = _free_port()
    processes = [_SPAWN.Process(target=_process, args=(r, 2, port, str(tmp_path / "ddp"))) for r in range(2)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0]

    ddp = [json.loads(line) for line in (tmp_path / "ddp/metrics.jsonl").read_text().splitlines()]
    assert ddp[1]["train_loss"] < ddp[0]["train_loss"]
    for mine, theirs in zip(ddp, single.history, strict=True):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert mine[key] == pytest.approx(theirs[key], abs=1e-5), key
    # every process saw the same (all-reduced) records; only process 0 wrote files
    seen = [json.loads((tmp_path / f"ddp-rank{r}.json").read_text()) for r in range(2)]
    assert [r["test_loss"] for r in seen[0]] == [r["test_loss"] for r in seen[1]]
    assert {p.name for p in (tmp_path / "ddp").iterdir()} == {p.name for p in (tmp_path / "one").iterdir()}

    a, b = _weights(tmp_path / "ddp"), _weights(tmp_path / "one")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=2e-6, rtol=0)  # measured: 2e-7

    # the checkpoint of 2 processes resumes in 1 process, and training goes on
    resumed = divelab.run("softmax", out=tmp_path / "ddp", resume=True, progress=False, **{**SETTINGS, "epochs": 3})
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    assert resumed.history[2]["train_loss"] < resumed.history[1]["train_loss"]


def _token_process(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    world = World(rank, world_size, rank)
    with process_group(world, torch.device("cpu")):
        trainer = token_trainer(epochs=2, world=world)
        history = trainer.fit()
    if world.is_main:
        torch.save({"history": history, "model": trainer.model.state_dict()}, out)


@needs_gloo
def test_two_gloo_processes_match_one_process_with_a_token_mean_loss(one_thread, tmp_path):
    """A loss averaged over non-padding tokens, shards of 4 and 5 sentences with different token
    counts: each process's loss weighted by W·t_r/t gives the one-process gradient. Weights within
    2e-6 and losses within 1e-5, as above (weighting by sentences, W·n_r/n, moves the train loss
    by 3e-3)."""
    single = token_trainer(epochs=2)
    single.fit()
    _, y = next(single.train_loader.batches(1))
    cut = shard_bounds(len(y), World(1, 2))[0]
    tokens = (y != PAD).sum(1)
    assert tokens[:cut].float().mean() != tokens[cut:].float().mean()  # shards' tokens per sentence differ

    port, out = _free_port(), tmp_path / "ddp.pt"
    processes = [_SPAWN.Process(target=_token_process, args=(r, 2, port, str(out))) for r in range(2)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0]

    ddp = torch.load(out, weights_only=True)
    for mine, theirs in zip(ddp["history"], single.history, strict=True):
        for key in ("train_loss", "val_loss"):
            assert mine[key] == pytest.approx(theirs[key], abs=1e-5), key
    weights = single.model.state_dict()
    assert ddp["model"].keys() == weights.keys()
    for key in weights:
        torch.testing.assert_close(ddp["model"][key], weights[key], atol=2e-6, rtol=0)


class _TupleInputs:
    """A loader whose inputs are a tuple of tensors, as the translation loader's ``(src, src_len, tgt_in)``."""

    def __init__(self, n: int, batch_size: int):
        self.inner = TensorLoader(torch.arange(n * 3.0).view(n, 3), torch.arange(n), torch.arange(n) * 10,
                                  batch_size=batch_size)

    def batches(self, epoch: int = 0, start: int = 0):
        for a, b, y in self.inner.batches(epoch, start):
            yield (a, b), y


def test_tuple_inputs_are_sharded_row_wise_and_sized_by_their_targets():
    loader, world_size = _TupleInputs(23, batch_size=10), 2
    per_rank = [list(ShardedLoader(loader, World(r, world_size)).sized_batches()) for r in range(world_size)]
    for i, ((a, b), y) in enumerate(loader.batches()):
        assert all(per_rank[r][i][0] == len(y) for r in range(world_size))  # not len of the tuple (2)
        (a0, b0), y0 = per_rank[0][i][1]
        (a1, b1), y1 = per_rank[1][i][1]
        assert torch.equal(torch.cat([a0, a1]), a) and torch.equal(torch.cat([b0, b1]), b)
        assert torch.equal(torch.cat([y0, y1]), y)
    sizes = [size for size, _ in ShardedLoader(loader, World(1, world_size)).sized_batches(size=torch.sum)]
    assert sizes == [y.sum() for _, y in loader.batches()]  # `size` sees the whole batch's targets
