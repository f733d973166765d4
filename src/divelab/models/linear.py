"""Linear models built from PyTorch layers: linear regression and softmax regression."""

from __future__ import annotations

from torch import Tensor, nn


def init_normal(module: nn.Module, std: float = 0.01) -> None:
    """The course's initialisation: weights ~ N(0, std²), biases 0, for every Linear layer."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=std)
            nn.init.zeros_(m.bias)


class LinearRegression(nn.Module):
    """``ŷ = x wᵀ + b`` with one output, returned as shape (n,)."""

    def __init__(self, num_inputs: int):
        super().__init__()
        self.net = nn.Linear(num_inputs, 1)
        init_normal(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)  # (n, 1) -> (n,)


class SoftmaxRegression(nn.Module):
    """Logits ``o = flatten(x) Wᵀ + b``; the softmax lives in the cross-entropy loss."""

    def __init__(self, num_inputs: int = 784, num_outputs: int = 10):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))
        init_normal(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
