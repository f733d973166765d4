"""Multilayer perceptron built from PyTorch layers."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from divelab.models.linear import init_normal


class MLP(nn.Module):
    """Flatten, then ``Linear → ReLU`` per hidden width, then a Linear output layer.

    ``MLP(784, [256], 10)`` is the course's one-hidden-layer network.
    """

    def __init__(self, num_inputs: int = 784, hidden: Sequence[int] = (256,), num_outputs: int = 10):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = num_inputs
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
