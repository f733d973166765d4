"""Twin tests for scratch batch norm against F.batch_norm and nn.BatchNorm1d/2d.

Everything in float64; outputs, gradients (x, γ, β) and running buffers must agree to
``atol=1e-12, rtol=1e-10`` — far below any real mistake (e.g. storing the biased variance
changes running_var by a factor m/(m−1), at least 1e-3 for the batches used here).
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.scratch.batchnorm import BatchNormScratch, batch_norm
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

TOL = {"atol": 1e-12, "rtol": 1e-10}
SHAPES = [(8, 5), (2, 3), (64, 1), (4, 3, 6, 6), (2, 1, 3, 3), (1, 4, 2, 5)]


def _random(shape, seed, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64) * scale + shift


def _params(channels, seed=1):
    g = torch.Generator().manual_seed(seed)
    gamma = 1 + 0.5 * torch.randn(channels, generator=g, dtype=torch.float64)
    beta = torch.randn(channels, generator=g, dtype=torch.float64)
    mean = torch.randn(channels, generator=g, dtype=torch.float64)
    var = torch.rand(channels, generator=g, dtype=torch.float64) + 0.5
    return gamma, beta, mean, var


@pytest.mark.parametrize("momentum, eps", [(0.1, 1e-5), (0.3, 1e-3)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_function_matches_f_batch_norm(shape, training, momentum, eps):
    """Outputs and gradients wrt x, γ, β; then the running buffers each side updated."""
    x = _random(shape, 0, scale=3.0, shift=2.0)
    gamma, beta, mean, var = _params(shape[1])
    buffers = {"mine": (mean.clone(), var.clone()), "theirs": (mean.clone(), var.clone())}
    assert_twin(
        lambda x, g, b: batch_norm(x, g, b, *buffers["mine"], training, momentum, eps),
        lambda x, g, b: F.batch_norm(x, *buffers["theirs"], g, b, training, momentum, eps),
        x, gamma, beta, **TOL)
    for mine, theirs in zip(buffers["mine"], buffers["theirs"]):
        torch.testing.assert_close(mine, theirs, **TOL)
    if not training:  # evaluation never touches the running statistics
        assert torch.equal(buffers["mine"][0], mean) and torch.equal(buffers["mine"][1], var)


def test_running_variance_is_the_unbiased_batch_variance():
    """By hand: running_var = 0.9 · 1 + 0.1 · Σ(x − x̄)² / (m − 1) — not / m."""
    x = torch.tensor([[1.0], [2.0], [4.0], [9.0]], dtype=torch.float64)  # one channel, m = 4
    mean, var = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    batch_norm(x, torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64), mean, var, True)
    unbiased = ((x - 4.0) ** 2).sum() / 3  # x̄ = 4
    assert mean.item() == pytest.approx(0.1 * 4.0, rel=1e-12)
    assert var.item() == pytest.approx(0.9 + 0.1 * unbiased.item(), rel=1e-12)


def test_training_mode_normalises_with_the_biased_variance():
    x = _random((6, 3, 2, 2), 4, scale=5.0, shift=-1.0)
    ones, zeros = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    y = batch_norm(x, ones, zeros, zeros.clone(), ones.clone(), True, eps=0.0)
    per_channel = y.transpose(0, 1).reshape(3, -1)  # (C, N·H·W)
    torch.testing.assert_close(per_channel.mean(1), zeros, atol=1e-12, rtol=0)
    torch.testing.assert_close(per_channel.var(1, unbiased=False), ones, atol=1e-12, rtol=0)


def test_one_value_per_channel_is_rejected_in_training_like_torch():
    x = torch.randn(1, 4, dtype=torch.float64)
    gamma, beta, mean, var = _params(4)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batch_norm(x, gamma, beta, mean, var, True)
    with pytest.raises(ValueError):
        F.batch_norm(x, mean, var, gamma, beta, True)
    batch_norm(x, gamma, beta, mean, var, False)  # evaluation is fine


# ---- the module, over several training steps and then in evaluation ------------------------

def _twin_layers(channels, dims, momentum=0.1):
    mine = BatchNormScratch(channels, dims=dims, momentum=momentum).double()
    theirs = (nn.BatchNorm1d if dims == 2 else nn.BatchNorm2d)(channels, momentum=momentum).double()
    gamma, beta, _, _ = _params(channels, seed=5)
    with torch.no_grad():
        for layer in (mine, theirs):
            layer.weight.copy_(gamma)
            layer.bias.copy_(beta)
    return mine, theirs


def _step(layer, x, upstream):
    """Forward, backward of ⟨y, upstream⟩; returns y and the gradients wrt x, γ, β."""
    x = x.clone().requires_grad_(True)
    layer.zero_grad()
    y = layer(x)
    y.backward(upstream)
    return y.detach(), x.grad, layer.weight.grad.clone(), layer.bias.grad.clone()


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])  # None: the cumulative average
@pytest.mark.parametrize("shape", [(16, 6), (5, 3), (8, 4, 5, 5), (2, 2, 3, 4)])
def test_module_matches_nn_batchnorm_over_steps_then_in_eval(shape, momentum):
    mine, theirs = _twin_layers(shape[1], len(shape), momentum)
    for step in range(6):
        x = _random(shape, 10 + step, scale=1 + step, shift=step - 2.0)  # statistics drift between batches
        upstream = _random(shape, 100 + step)
        for got, want in zip(_step(mine, x, upstream), _step(theirs, x, upstream)):
            torch.testing.assert_close(got, want, **TOL, msg=lambda m, s=step: f"training step {s}: {m}")
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            torch.testing.assert_close(getattr(mine, name), getattr(theirs, name), **TOL)
    mine.eval()
    theirs.eval()
    x, upstream = _random(shape, 99, scale=2.0), _random(shape, 98)
    for got, want in zip(_step(mine, x, upstream), _step(theirs, x, upstream)):
        torch.testing.assert_close(got, want, **TOL, msg=lambda m: f"evaluation: {m}")
    assert mine.num_batches_tracked.item() == 6


def test_state_dict_moves_between_scratch_and_nn():
    mine, theirs = BatchNormScratch(4, dims=4), nn.BatchNorm2d(4)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    theirs.train()
    theirs(torch.randn(3, 4, 2, 2) * 3 + 1)
    mine.load_state_dict(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert torch.equal(mine.state_dict()[key], value)


def test_float32_agrees_closely():
    mine, theirs = BatchNormScratch(8, dims=2), nn.BatchNorm1d(8)
    for seed in range(3):
        x = torch.randn(32, 8, generator=torch.Generator().manual_seed(seed)) * 4 + 3
        torch.testing.assert_close(mine(x), theirs(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mine.running_var, theirs.running_var, atol=1e-6, rtol=1e-6)


def test_wrong_input_rank_and_dims_are_rejected():
    with pytest.raises(ValueError, match="dims"):
        BatchNormScratch(3, dims=3)
    with pytest.raises(ValueError, match="4-D input"):
        BatchNormScratch(3, dims=4)(torch.randn(5, 3))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"momentum": "0.1"}, TypeError,
     "BatchNormScratch(): argument 'momentum' must be a float in [0, 1] or None (the cumulative average), not str"),
    ({"momentum": True}, TypeError, "BatchNormScratch(): argument 'momentum' must be a float in [0, 1] or None"),
    ({"momentum": 1.5}, ValueError, "BatchNormScratch(): argument 'momentum' must be in [0, 1], got 1.5"),
    ({"eps": 0.0}, ValueError, "BatchNormScratch(): argument 'eps' must be a positive number, got 0.0"),
    ({"num_features": 0}, ValueError, "BatchNormScratch(): argument 'num_features' must be a positive integer"),
])
def test_bad_layer_settings_are_refused_by_name(kwargs, error, message):
    with pytest.raises(error) as raised:
        BatchNormScratch(**{"num_features": 3, **kwargs})
    assert str(raised.value).startswith(message)


def test_the_function_refuses_momentum_none_and_non_tensors_like_f_batch_norm():
    x, gamma, beta = torch.randn(4, 3), torch.ones(3), torch.zeros(3)
    with pytest.raises(TypeError, match=r"^batch_norm\(\): argument 'momentum' must be a float in \[0, 1\], "
                                        r"not NoneType$"):
        batch_norm(x, gamma, beta, torch.zeros(3), torch.ones(3), training=True, momentum=None)
    with pytest.raises(TypeError, match=r"^batch_norm\(\): argument 'x' must be a Tensor, not list$"):
        batch_norm([[0.0] * 3] * 4, gamma, beta, torch.zeros(3), torch.ones(3), training=True)
