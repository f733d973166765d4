import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from divelab.data.sequence import SequenceLoader
from divelab.scratch.optim import Adam  # the scratch twin: torch.optim would import dynamo (seconds)
from divelab.train.trainer import Trainer, evaluate

PARTITIONS = ("random", "sequential")


def positions(n: int) -> torch.Tensor:
    """Token ids equal to their positions in the stream, so a batch shows where it was cut."""
    return torch.arange(n)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 400), batch_size=st.integers(1, 6), num_steps=st.integers(1, 12),
       partition=st.sampled_from(PARTITIONS), seed=st.integers(0, 3), epoch=st.integers(0, 5))
def test_batches_are_shifted_windows_that_never_overlap(n, batch_size, num_steps, partition, seed, epoch):
    if n < num_steps * (batch_size + 1):
        with pytest.raises(ValueError, match="too few"):
            SequenceLoader(positions(n), batch_size, num_steps, partition)
        return
    loader = SequenceLoader(positions(n), batch_size, num_steps, partition, seed=seed)
    batches = list(loader.batches(epoch))
    assert len(batches) == len(loader) >= 1
    assert loader.num_samples == sum(len(x) for x, _ in batches) == len(loader) * batch_size
    xs = torch.stack([x for x, _ in batches])  # (batches, B, T)
    ys = torch.stack([y for _, y in batches])
    assert xs.dtype == ys.dtype == torch.int64 and xs.shape[1:] == (batch_size, num_steps)
    assert torch.equal(ys, xs + 1)  # y is x shifted by one token
    assert torch.equal(xs.diff(dim=-1), torch.ones_like(xs[..., 1:]))  # each row is consecutive text
    assert ys.max() < n
    # the subsequences tile one stretch of the text: no token twice, no gap
    covered = xs.flatten().sort().values
    offset = int(covered[0])
    assert 0 <= offset < num_steps
    assert torch.equal(covered, torch.arange(offset, offset + len(covered)))


@pytest.mark.parametrize("partition", PARTITIONS)
def test_other_token_ids_are_indexed_the_same_way(partition):
    ids = torch.randint(0, 50, (300,), generator=torch.Generator().manual_seed(0))
    by_position = SequenceLoader(positions(300), 4, 7, partition, seed=5)
    by_id = SequenceLoader(ids, 4, 7, partition, seed=5)
    for (px, py), (x, y) in zip(by_position.batches(2), by_id.batches(2), strict=True):
        assert torch.equal(x, ids[px]) and torch.equal(y, ids[py])


def test_sequential_rows_continue_across_batches():
    loader = SequenceLoader(positions(1000), batch_size=3, num_steps=8, partition="sequential", seed=1)
    batches = list(loader.batches(epoch=4))
    for (_, y), (x_next, _) in zip(batches, batches[1:]):
        assert torch.equal(x_next[:, 0], y[:, -1])  # row b of batch i+1 starts where row b of batch i ended
    rows = torch.cat([x for x, _ in batches], dim=1)  # (B, all steps): each row one contiguous stretch
    assert torch.equal(rows.diff(dim=1), torch.ones_like(rows[:, 1:]))


def test_random_batches_are_shuffled_not_in_text_order():
    loader = SequenceLoader(positions(2000), batch_size=4, num_steps=5, partition="random", seed=0)
    firsts = torch.cat([x[:, 0] for x in (b[0] for b in loader.batches(1))])
    assert not torch.equal(firsts, firsts.sort().values)


@pytest.mark.parametrize("partition", PARTITIONS)
def test_an_epoch_depends_only_on_seed_and_epoch(partition):
    a = SequenceLoader(positions(500), 4, 6, partition, seed=7)
    b = SequenceLoader(positions(500), 4, 6, partition, seed=7)
    torch.manual_seed(123)  # the global RNG must not matter
    for (xa, ya), (xb, yb) in zip(a.batches(3), b.batches(3), strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    other_seed = SequenceLoader(positions(500), 4, 6, partition, seed=8)
    assert any(not torch.equal(a.starts(e), other_seed.starts(e)) for e in range(5))


@pytest.mark.parametrize("partition", PARTITIONS)
def test_epochs_start_at_different_offsets(partition):
    num_steps = 10
    loader = SequenceLoader(positions(600), 5, num_steps, partition, seed=0)
    offsets = {int(loader.starts(epoch).min()) for epoch in range(12)}
    assert all(0 <= o < num_steps for o in offsets) and len(offsets) > 3
    assert len({len(list(loader.batches(epoch))) for epoch in range(12)}) == 1  # same length every epoch


@pytest.mark.parametrize("partition", PARTITIONS)
def test_start_resumes_mid_epoch_exactly(partition):
    loader = SequenceLoader(positions(700), 3, 9, partition, seed=2)
    full = list(loader.batches(5))
    tail = list(loader.batches(5, start=4))
    assert len(tail) == len(full) - 4
    assert all(torch.equal(p[0], q[0]) and torch.equal(p[1], q[1]) for p, q in zip(full[4:], tail, strict=True))
    assert all(torch.equal(p[0], q[0]) for p, q in zip(loader, loader.batches(0)))  # iterating is epoch 0


def test_the_shortest_text_gives_exactly_one_batch():
    batch_size, num_steps = 4, 5
    need = num_steps * (batch_size + 1)
    for partition in PARTITIONS:
        assert len(SequenceLoader(positions(need), batch_size, num_steps, partition)) == 1
        with pytest.raises(ValueError, match=f"at least num_steps × \\(batch_size \\+ 1\\) = {need} tokens"):
            SequenceLoader(positions(need - 1), batch_size, num_steps, partition)


@pytest.mark.parametrize(("args", "message"), [
    ((torch.zeros(3, 30, dtype=torch.int64), 2, 3, "random"), "1-D tensor of integer"),
    ((torch.zeros(60), 2, 3, "random"), "1-D tensor of integer"),
    ((positions(60), 0, 3, "random"), "batch_size and num_steps must be ≥ 1"),
    ((positions(60), 2, 0, "sequential"), "batch_size and num_steps must be ≥ 1"),
    ((positions(60), 2, 3, "shuffled"), "partition must be"),
])
def test_bad_arguments_are_value_errors(args, message):
    with pytest.raises(ValueError, match=message):
        SequenceLoader(*args)


class TinyLM(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.embed, self.head = nn.Embedding(vocab_size, 8), nn.Linear(8, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))  # (B, T) -> (B, T, V)


def lm_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())  # mean over the B·T tokens


def test_a_drop_in_for_the_trainer_and_evaluate():
    torch.manual_seed(0)
    ids = torch.arange(400) % 7  # a cycle: the next token is predictable from this one
    train = SequenceLoader(ids, 4, 10, "random", seed=0, device="cpu")
    test = SequenceLoader(ids[:200], 4, 10, "sequential", device="cpu")
    model = TinyLM(7)
    before = evaluate(model, test, lm_loss, classification=False)["loss"]
    trainer = Trainer(model, lm_loss, Adam(model.parameters(), lr=0.05), train, test,
                      epochs=3, classification=False, progress=False)
    history = trainer.fit()
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert history[-1]["test_loss"] < before / 2
    expected = sum(lm_loss(model(x), y).item() * len(y) for x, y in test) / test.num_samples
    assert evaluate(model, test, lm_loss, classification=False)["loss"] == pytest.approx(expected, rel=1e-6)
