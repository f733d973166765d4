import pytest
import torch

from divelab.data.loader import TensorLoader, split
from divelab.data.synthetic import linear_data


def test_every_sample_once_per_epoch_in_a_fresh_order():
    x = torch.arange(103)
    loader = TensorLoader(x, x * 2, batch_size=10, shuffle=True, seed=3)
    assert len(loader) == 11
    epochs = []
    for epoch in (1, 2):
        seen = torch.cat([b[0] for b in loader.batches(epoch)])
        assert sorted(seen.tolist()) == list(range(103))
        epochs.append(seen)
    assert not torch.equal(epochs[0], epochs[1])
    xb, yb = next(iter(loader.batches(1)))
    assert torch.equal(yb, xb * 2)  # tensors stay aligned


def test_order_depends_only_on_seed_and_epoch():
    x = torch.arange(50)
    a = TensorLoader(x, batch_size=7, shuffle=True, seed=1)
    b = TensorLoader(x, batch_size=7, shuffle=True, seed=1)
    torch.manual_seed(123)  # the global RNG must not matter
    assert torch.equal(a.order(4), b.order(4))
    assert not torch.equal(a.order(4), TensorLoader(x, batch_size=7, shuffle=True, seed=2).order(4))


def test_start_skips_batches_exactly():
    x = torch.arange(40)
    loader = TensorLoader(x, batch_size=6, shuffle=True, seed=0)
    full = [b[0] for b in loader.batches(3)]
    tail = [b[0] for b in loader.batches(3, start=4)]
    assert len(tail) == len(full) - 4
    assert all(torch.equal(p, q) for p, q in zip(full[4:], tail))


def test_drop_last_and_no_shuffle():
    x = torch.arange(25)
    loader = TensorLoader(x, batch_size=10, drop_last=True)
    batches = [b[0] for b in loader]
    assert len(loader) == len(batches) == 2
    assert torch.equal(torch.cat(batches), torch.arange(20))


def test_bad_arguments():
    with pytest.raises(ValueError, match="differ in length"):
        TensorLoader(torch.zeros(3), torch.zeros(4), batch_size=1)
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(torch.zeros(3), batch_size=0)


def test_split_is_a_seeded_partition():
    x = torch.arange(100)
    (train,), (val,) = split(x, val_size=20, seed=5)
    assert len(train) == 80 and len(val) == 20
    assert sorted(torch.cat([train, val]).tolist()) == list(range(100))
    (train2,), _ = split(x, val_size=20, seed=5)
    assert torch.equal(train, train2)
    with pytest.raises(ValueError):
        split(x, val_size=100)


def test_linear_data_follows_the_model():
    w = torch.tensor([2.0, -3.4])
    X, y = linear_data(w, 4.2, 5000, noise=0.01, seed=0)
    residual = y - (X @ w + 4.2)
    assert X.shape == (5000, 2) and y.shape == (5000,)
    assert abs(residual.std().item() - 0.01) < 1e-3
    X2, _ = linear_data(w, 4.2, 5000, noise=0.01, seed=0)
    assert torch.equal(X, X2)
