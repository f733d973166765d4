"""Multilayer perceptron built from PyTorch layers."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from divelab.models.linear import init_normal


class MLP(nn.Module):
    """Flatten, then ``Linear → ReLU`` (→ ``Dropout(p)``) per hidden width, then a Linear output.

    ``MLP(784, [256], 10)`` is the course's one-hidden-layer network;
    ``MLP(784, (256, 256), 10, dropouts=(0.2, 0.5))`` its dropout network (one probability
    per hidden layer; ``model.train()`` / ``model.eval()`` switch dropout on and off).
    Weights ~ N(0, 0.01²), biases 0.
    """

    def __init__(self, num_inputs: int = 784, hidden: Sequence[int] = (256,), num_outputs: int = 10,
                 dropouts: Sequence[float] = ()):
        super().__init__()
        if dropouts and len(dropouts) != len(hidden):
            raise ValueError(f"need one dropout probability per hidden layer: {len(hidden)} layers, "
                             f"{len(dropouts)} probabilities")
        layers: list[nn.Module] = [nn.Flatten()]
        width = num_inputs
        for i, h in enumerate(hidden):
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropouts:
                layers.append(nn.Dropout(dropouts[i]))
            width = h
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
