"""The sawtooth Tᵐ and the hand-built networks that compute it: exact on a grid, with the parameter counts claimed."""

import pytest
import torch

from divelab.analysis.pieces import midpoint_grid
from divelab.models.sawtooth import (deep_sawtooth, parameter_count, relu_network, shallow_sawtooth, tent_power,
                                     width_for)


def size(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_tent_power_composes_the_tent_map():
    x = torch.tensor([0.0, 0.125, 0.25, 0.3, 0.5, 0.75, 1.0], dtype=torch.float64)
    assert torch.equal(tent_power(x, 1), torch.tensor([0.0, 0.25, 0.5, 0.6, 1.0, 0.5, 0.0], dtype=torch.float64))
    assert torch.allclose(tent_power(x, 3), tent_power(tent_power(tent_power(x, 1), 1), 1))
    assert torch.equal(tent_power(x, 0), x)


@pytest.mark.parametrize("m", [1, 2, 3, 6])
def test_hand_built_networks_compute_the_sawtooth_exactly(m):
    x = midpoint_grid(4096)[:, None]
    deep, shallow = deep_sawtooth(m).double(), shallow_sawtooth(m).double()
    with torch.no_grad():
        torch.testing.assert_close(deep(x), tent_power(x, m), rtol=0, atol=1e-12)
        torch.testing.assert_close(shallow(x), tent_power(x, m), rtol=0, atol=1e-12)
    assert size(deep) == 6 * m + 1  # 2 units per layer
    assert size(shallow) == 3 * 2 ** m + 1  # 2ᵐ units in one layer
    assert shallow[0].out_features == 2 ** m


@pytest.mark.parametrize("depth, width", [(1, 1), (1, 33), (3, 5), (6, 3)])
def test_parameter_count_is_the_networks_size(depth, width):
    assert parameter_count(depth, width) == size(relu_network(depth, width))


@pytest.mark.parametrize("depth, budget", [(1, 100), (2, 100), (4, 100), (6, 70)])
def test_width_for_is_the_widest_within_the_budget(depth, budget):
    width = width_for(depth, budget)
    assert parameter_count(depth, width) <= budget < parameter_count(depth, width + 1)


def test_errors():
    with pytest.raises(ValueError, match="budget"):
        width_for(6, 10)
    with pytest.raises(ValueError, match="depth"):
        relu_network(0, 3)
    with pytest.raises(ValueError, match="m "):
        deep_sawtooth(0)
