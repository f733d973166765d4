"""Counting the linear pieces of a ReLU network on a grid: against autograd for the slopes,
hand-made networks whose pieces are known, and the chunked walk against one pass."""

import pytest
import torch
from torch import nn

from divelab.analysis import pieces
from divelab.analysis.pieces import Pieces, count_pieces, midpoint_grid, patterns_and_slopes
from divelab.models.sawtooth import deep_sawtooth, relu_network


def network(weights: list[list[float]], biases: list[float], out: list[float]) -> nn.Sequential:
    net = relu_network(1, len(biases))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(weights))
        net[0].bias.copy_(torch.tensor(biases))
        net[2].weight.copy_(torch.tensor([out]))
        net[2].bias.zero_()
    return net


def test_slopes_equal_autograd():
    torch.manual_seed(0)
    net = relu_network(3, 6).double()
    x = torch.linspace(-2, 2, 301, dtype=torch.float64).requires_grad_()
    net(x[:, None]).sum().backward()
    _, slope = patterns_and_slopes(net, x.detach())
    torch.testing.assert_close(slope, x.grad, rtol=1e-12, atol=1e-12)


def test_one_kink_inside_the_grid_is_two_pieces_and_none_outside_is_one():
    net = network([[1.0]], [-0.3], [1.0])  # ReLU(x − 0.3)
    assert count_pieces(net, midpoint_grid(1000)) == Pieces(2, 2)
    assert count_pieces(net, torch.linspace(0.4, 1, 50)) == Pieces(1, 1)


def test_a_unit_nothing_reads_switches_the_region_but_not_the_piece():
    net = network([[1.0], [1.0]], [-0.3, -0.6], [1.0, 0.0])  # the second unit's output weight is 0
    assert count_pieces(net, midpoint_grid(1000)) == Pieces(3, 2)


def test_kinks_that_cancel_are_one_piece():
    net = network([[1.0], [-1.0]], [-0.5, 0.5], [1.0, -1.0])  # ReLU(x−½) − ReLU(½−x) = x − ½
    assert count_pieces(net, midpoint_grid(1000)) == Pieces(2, 1)


@pytest.mark.parametrize("m", [1, 4, 7])
def test_the_deep_sawtooth_has_two_to_the_m_pieces(m):
    assert count_pieces(deep_sawtooth(m), midpoint_grid(2 ** 12)).pieces == 2 ** m


def test_the_chunked_walk_counts_what_one_pass_does(monkeypatch):
    torch.manual_seed(1)
    net = relu_network(2, 12)
    grid = torch.linspace(-3, 3, 5000)
    whole = count_pieces(net, grid)
    monkeypatch.setattr(pieces, "CHUNK", 7)  # boundaries between chunks fall between neighbours
    assert count_pieces(net, grid) == whole
    assert whole.pieces > 1


def test_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="sorted"):
        count_pieces(relu_network(1, 2), torch.tensor([0.0, 0.5, 0.2]))
    with pytest.raises(ValueError, match="Tanh"):
        count_pieces(nn.Sequential(nn.Linear(1, 2), nn.Tanh(), nn.Linear(2, 1)), midpoint_grid(8))
    with pytest.raises(ValueError, match="one output"):
        count_pieces(nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3)), midpoint_grid(8))
