"""MLP with dropout: the course's layer layout and initialisation, dropout on in train mode only."""

import pytest
import torch
from torch import nn

from divelab.models import MLP


def test_layers_are_linear_relu_dropout_per_hidden_layer():
    model = MLP(784, (256, 128), 10, dropouts=(0.2, 0.5))
    kinds = [type(m) for m in model.net]
    assert kinds == [nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert [m.p for m in model.net if isinstance(m, nn.Dropout)] == [0.2, 0.5]
    assert [m.out_features for m in model.net if isinstance(m, nn.Linear)] == [256, 128, 10]
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_initialisation_is_normal_with_std_0_01_and_zero_bias():
    torch.manual_seed(0)
    model = MLP(784, (256, 256), 10, dropouts=(0.2, 0.5))
    first = model.net[1]
    assert first.weight.std().item() == pytest.approx(0.01, rel=0.01)  # 200,704 draws: ±1% is 6σ
    assert abs(first.weight.mean().item()) < 1e-4
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in model.net if isinstance(m, nn.Linear))


def test_dropout_only_in_train_mode():
    torch.manual_seed(0)
    model = MLP(12, (64, 64), 4, dropouts=(0.5, 0.5))
    nn.init.normal_(model.net[1].weight, std=0.5)  # bigger weights, so outputs differ visibly
    x = torch.randn(6, 12)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_zero_dropout_is_deterministic_in_train_mode():
    model = MLP(12, (8,), 4, dropouts=(0.0,))
    x = torch.randn(6, 12)
    model.train()
    assert torch.equal(model(x), model(x))


def test_one_probability_per_hidden_layer():
    with pytest.raises(ValueError, match="one dropout probability per hidden layer"):
        MLP(784, (256, 256), 10, dropouts=(0.5,))
