"""Twin tests for the scratch Xavier / He initialisers against torch.nn.init.

Both draw with ``tensor.uniform_`` / ``tensor.normal_`` from the bound or std computed by the
same arithmetic, so with the same generator seed they must agree bit for bit; over many
draws their statistics must match the formulas.
"""

import math

import pytest
import torch
from torch import nn

from divelab.scratch import init

pytestmark = pytest.mark.twin

SHAPES = [(3, 4), (64, 784), (10, 32), (6, 1, 5, 5), (16, 6, 5, 5), (8, 3, 3, 2)]

# (scratch call, nn.init call), each taking (tensor, generator)
TWINS = {
    "xavier_uniform": (lambda w, g: init.xavier_uniform_(w, generator=g),
                       lambda w, g: nn.init.xavier_uniform_(w, generator=g)),
    "xavier_uniform_tanh": (lambda w, g: init.xavier_uniform_(w, init.calculate_gain("tanh"), generator=g),
                            lambda w, g: nn.init.xavier_uniform_(w, nn.init.calculate_gain("tanh"), generator=g)),
    "xavier_normal": (lambda w, g: init.xavier_normal_(w, generator=g),
                      lambda w, g: nn.init.xavier_normal_(w, generator=g)),
    "xavier_normal_gain": (lambda w, g: init.xavier_normal_(w, 0.5, generator=g),
                           lambda w, g: nn.init.xavier_normal_(w, 0.5, generator=g)),
    "kaiming_uniform": (lambda w, g: init.kaiming_uniform_(w, generator=g),
                        lambda w, g: nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=g)),
    "kaiming_uniform_fan_out": (lambda w, g: init.kaiming_uniform_(w, mode="fan_out", generator=g),
                                lambda w, g: nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu",
                                                                      generator=g)),
    "kaiming_uniform_leaky": (lambda w, g: init.kaiming_uniform_(w, nonlinearity="leaky_relu", negative_slope=0.2,
                                                                 generator=g),
                              lambda w, g: nn.init.kaiming_uniform_(w, a=0.2, generator=g)),
    "kaiming_normal": (lambda w, g: init.kaiming_normal_(w, generator=g),
                       lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)),
    "kaiming_normal_fan_out": (lambda w, g: init.kaiming_normal_(w, mode="fan_out", generator=g),
                               lambda w, g: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu",
                                                                    generator=g)),
    "kaiming_normal_tanh": (lambda w, g: init.kaiming_normal_(w, nonlinearity="tanh", generator=g),
                            lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="tanh", generator=g)),
    "kaiming_normal_linear": (lambda w, g: init.kaiming_normal_(w, nonlinearity="linear", generator=g),
                              lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="linear", generator=g)),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape):
    w = torch.empty(shape)
    assert init.fan_in_and_fan_out(w) == nn.init._calculate_fan_in_and_fan_out(w)


def test_fans_of_linear_and_conv_weights_by_hand():
    assert init.fan_in_and_fan_out(torch.empty(120, 400)) == (400, 120)  # Linear(400 -> 120)
    assert init.fan_in_and_fan_out(torch.empty(16, 6, 5, 5)) == (6 * 25, 16 * 25)  # Conv(6 -> 16, 5x5)


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="2 dimensions"):
        init.fan_in_and_fan_out(torch.empty(5))


@pytest.mark.parametrize("nonlinearity", ["linear", "sigmoid", "tanh", "relu", "leaky_relu"])
def test_gain_matches_torch(nonlinearity):
    assert init.calculate_gain(nonlinearity) == nn.init.calculate_gain(nonlinearity)
    if nonlinearity == "leaky_relu":
        assert init.calculate_gain(nonlinearity, 0.3) == nn.init.calculate_gain(nonlinearity, 0.3)


def test_unknown_nonlinearity_and_mode_are_rejected():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("softplus")
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_normal_(torch.empty(3, 4), mode="fan_avg")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(TWINS))
def test_same_seed_gives_bitwise_equal_weights(name, shape, dtype):
    mine, theirs = TWINS[name]
    a = mine(torch.empty(shape, dtype=dtype), torch.Generator().manual_seed(7))
    b = theirs(torch.empty(shape, dtype=dtype), torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    c = mine(torch.empty(shape, dtype=dtype), torch.Generator().manual_seed(8))
    assert not torch.equal(a, c)  # a different seed draws different weights


def test_global_rng_is_used_without_a_generator():
    torch.manual_seed(3)
    a = init.xavier_uniform_(torch.empty(20, 30))
    torch.manual_seed(3)
    b = nn.init.xavier_uniform_(torch.empty(20, 30))
    assert torch.equal(a, b)


def test_fills_in_place_without_recording_autograd():
    weight = nn.Parameter(torch.zeros(8, 5))
    out = init.kaiming_uniform_(weight, generator=torch.Generator().manual_seed(0))
    assert out is weight and weight.is_leaf and weight.grad_fn is None
    assert (weight != 0).all()


# ---- statistics over many draws --------------------------------------------------------------

def _expected_std(name, shape):
    fan_in, fan_out = math.prod(shape[1:]), shape[0] * math.prod(shape[2:])
    return {
        "xavier_uniform": math.sqrt(2 / (fan_in + fan_out)),
        "xavier_normal": math.sqrt(2 / (fan_in + fan_out)),
        "kaiming_uniform": math.sqrt(2 / fan_in),
        "kaiming_normal": math.sqrt(2 / fan_in),
        "kaiming_normal_fan_out": math.sqrt(2 / fan_out),
    }[name]


@pytest.mark.parametrize("shape", [(400, 300), (128, 64, 3, 3)])
@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
                                  "kaiming_normal_fan_out"])
def test_statistics_match_formula_and_torch(name, shape):
    """70k+ draws (standard error of the std ≲ 0.3 %): mean ≈ 0 and std within 1 % of the formula,
    for scratch and for torch (other seeds)."""
    mine, theirs = TWINS[name]
    a = mine(torch.empty(shape, dtype=torch.float64), torch.Generator().manual_seed(1))
    b = theirs(torch.empty(shape, dtype=torch.float64), torch.Generator().manual_seed(2))
    std = _expected_std(name, shape)
    for w in (a, b):
        assert abs(w.mean().item()) < 0.01 * std
        assert w.std().item() == pytest.approx(std, rel=0.01)
    assert a.std().item() == pytest.approx(b.std().item(), rel=0.015)


def test_uniform_bounds_are_sqrt3_std():
    """Xavier uniform on (300, 200): a = √(6 / 500); every value inside, the extremes close to ±a."""
    w = init.xavier_uniform_(torch.empty(300, 200, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    a = math.sqrt(6 / 500)
    assert w.abs().max().item() <= a
    assert w.max().item() > 0.999 * a and w.min().item() < -0.999 * a
