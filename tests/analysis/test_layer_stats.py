"""Per-layer gradient norms and activation statistics, checked against direct computation."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.analysis.layer_stats import (
    LayerStats,
    activation_stats,
    gradient_norms,
    weight_layers,
)
from divelab.data import TensorLoader
from divelab.train import Trainer


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))


def _batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def test_weight_layers_in_order_without_norm_layers():
    model = _model()
    assert list(weight_layers(model)) == ["0", "3", "5"]
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
    assert list(weight_layers(conv)) == ["0", "3"]


def test_gradient_norms_equal_backward_and_leave_grad_alone():
    model = _model()
    x, y = _batch()
    norms = gradient_norms(model, F.cross_entropy(model(x), y))
    assert all(p.grad is None for p in model.parameters())
    F.cross_entropy(model(x), y).backward()
    for name, layer in weight_layers(model).items():
        assert norms[name] == pytest.approx(layer.weight.grad.norm().item(), rel=1e-6)


def test_gradient_norm_of_an_unused_layer_is_zero():
    model = _model()
    x, y = _batch()
    loss = F.cross_entropy(model[:4](x)[:, :3], y)  # the last Linear is not used
    assert gradient_norms(model, loss)["5"] == 0.0


def test_activation_stats_match_direct_computation_and_remove_hooks():
    model = _model().eval()
    x, _ = _batch()
    stats = activation_stats(model, x, {"tanh": model[2], "relu": model[4]})
    with torch.no_grad():
        tanh_out = model[:3](x)
        relu_out = model[:5](x)
    assert stats["tanh"]["mean"] == pytest.approx(tanh_out.mean().item(), rel=1e-6)
    assert stats["tanh"]["std"] == pytest.approx(tanh_out.std().item(), rel=1e-6)
    assert stats["relu"]["std"] == pytest.approx(relu_out.std().item(), rel=1e-6)
    assert all(not m._forward_hooks for m in model.modules())


def _trainer(model, callbacks, epochs=2, batch_size=16):
    x, y = _batch(32)
    return Trainer(model, F.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                   TensorLoader(x, y, batch_size=batch_size), TensorLoader(x, y, batch_size=32),
                   epochs=epochs, callbacks=callbacks, progress=False)


def test_layer_stats_records_epoch_means_of_per_step_norms():
    """Replay the same two steps by hand: the callback's per-layer means must match (which also
    shows the test-set evaluation before ``on_epoch_end`` is not counted as a training pass)."""
    model, replica = _model(), _model()
    stats = LayerStats(model)
    history = _trainer(model, [stats], epochs=1).fit()

    x, y = _batch(32)
    optimizer = torch.optim.SGD(replica.parameters(), lr=0.1)
    by_hand = torch.zeros(3)
    stds = torch.zeros(3)
    for rows in (slice(0, 16), slice(16, 32)):
        outputs = {}
        hooks = [m.register_forward_hook(lambda m, i, o, k=k: outputs.__setitem__(k, o.detach()))
                 for k, m in enumerate(weight_layers(replica).values())]
        loss = F.cross_entropy(replica(x[rows]), y[rows])
        for h in hooks:
            h.remove()
        optimizer.zero_grad()
        loss.backward()
        by_hand += torch.tensor([m.weight.grad.norm().item() for m in weight_layers(replica).values()])
        stds += torch.tensor([outputs[k].std().item() for k in range(3)])
        optimizer.step()
    torch.testing.assert_close(torch.tensor(stats.history[0]["grad_norm"]), by_hand / 2, rtol=1e-5, atol=0)
    torch.testing.assert_close(torch.tensor(stats.history[0]["act_std"]), stds / 2, rtol=1e-5, atol=0)
    record = history[0]
    assert record["grad_norm_first"] == pytest.approx(by_hand[0].item() / 2, rel=1e-5)
    assert record["grad_norm_ratio"] == pytest.approx((by_hand[0] / by_hand[-1]).item(), rel=1e-5)
    assert record["act_std_last"] == pytest.approx(stds[-1].item() / 2, rel=1e-5)
    assert all(not m._forward_hooks for m in model.modules())  # removed at the end of training


def test_layer_stats_watch_chosen_layers_only():
    model = _model()
    stats = LayerStats(model, layers={"mid": model[3]}, activations={"relu": model[4]})
    history = _trainer(model, [stats], epochs=2).fit()
    assert [len(entry["grad_norm"]) for entry in stats.history] == [1, 1]
    assert [len(entry["act_std"]) for entry in stats.history] == [1, 1]
    assert stats.history[0]["layers"] == ["mid"]
    assert history[0]["grad_norm_ratio"] == 1.0  # first and last watched layer are the same


def test_layer_stats_state_round_trip():
    model = _model()
    stats = LayerStats(model)
    _trainer(model, [stats], epochs=1).fit()
    again = LayerStats(_model())
    again.load_state_dict(stats.state_dict())
    assert again.history == stats.history
