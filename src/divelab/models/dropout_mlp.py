"""The course's dropout network built from PyTorch layers: an MLP with dropout after each hidden layer."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from divelab.models.linear import init_normal


class DropoutMLP(nn.Module):
    """Flatten, then ``Linear → ReLU → Dropout(p)`` per hidden layer, then a Linear output layer.

    The defaults are d2l's network: two hidden layers of 256 units, dropout 0.2 after the
    first and 0.5 after the second, weights ~ N(0, 0.01²), biases 0. ``dropouts`` has one
    probability per hidden layer; all zeros gives the same network without dropout.
    ``model.train()`` / ``model.eval()`` switch dropout on and off.
    """

    def __init__(self, num_inputs: int = 784, hidden: Sequence[int] = (256, 256), num_outputs: int = 10,
                 dropouts: Sequence[float] = (0.2, 0.5)):
        super().__init__()
        if len(hidden) != len(dropouts):
            raise ValueError(f"need one dropout probability per hidden layer: {len(hidden)} layers, "
                             f"{len(dropouts)} probabilities")
        layers: list[nn.Module] = [nn.Flatten()]
        width = num_inputs
        for h, p in zip(hidden, dropouts):
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(p)]
            width = h
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
