"""Plain and residual fully connected networks of a given depth, identical except for the
shortcuts (He et al., 2015, "Deep Residual Learning for Image Recognition", Figure 1).

:class:`PlainResidualMLP` is ``Flatten → Linear(in → width, no bias) → BN → ReLU``, a stack
of ``(depth − 2) / 2`` two-layer blocks of width ``width``, and ``Linear(width → classes)``;
``depth`` counts the weight layers (the stem, two per block, the head), an even number ≥ 2::

    plain block:     y = ReLU(BN(W₂ ReLU(BN(W₁ x))))
    residual block:  y = ReLU(BN(W₂ ReLU(BN(W₁ x))) + x)

Weights use He (Kaiming) normal initialisation for ReLU, ``N(0, 2 / fan_in)``; batch norm
starts at γ = 1, β = 0 — except the last batch norm of each residual block, whose γ starts
at 0 (Goyal et al., 2017; torchvision's ``zero_init_residual``): every residual block then
starts as the identity, so a residual network of any depth starts as the same function
as its stem and head alone, and the extra blocks only learn changes to it. Built with the
same seed, the plain and the residual network differ in those γ and the shortcuts only.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def mlp_blocks(depth: int) -> int:
    """Blocks of a :class:`PlainResidualMLP` of ``depth`` weight layers: ``(depth − 2) / 2``."""
    if depth < 2 or depth % 2:
        raise ValueError(f"an MLP of this family has depth = 2 + 2 × blocks weight layers (an even "
                         f"number ≥ 2: 20, 56, …), got {depth}")
    return (depth - 2) // 2


def init_he(module: nn.Module) -> None:
    """He normal weights ``N(0, 2 / fan_in)`` for every Linear, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Block(nn.Module):
    """``ReLU(BN(W₂ ReLU(BN(W₁ x))) [+ x])`` with bias-free ``width × width`` weights; ``residual`` adds ``x``."""

    def __init__(self, width: int, residual: bool):
        super().__init__()
        self.w1, self.w2 = nn.Linear(width, width, bias=False), nn.Linear(width, width, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm1d(width), nn.BatchNorm1d(width)
        self.residual = residual
        if residual:
            nn.init.zeros_(self.bn2.weight)  # the block starts as the identity

    def branch(self, x: Tensor) -> Tensor:
        """The two weight layers, ``BN(W₂ ReLU(BN(W₁ x)))``: all of a plain block but its last ReLU."""
        return self.bn2(self.w2(F.relu(self.bn1(self.w1(x)))))

    def forward(self, x: Tensor) -> Tensor:
        y = self.branch(x)
        return F.relu(y + x if self.residual else y)


class PlainResidualMLP(nn.Module):
    """A fully connected network of ``depth`` weight layers, plain or residual (module docstring)."""

    def __init__(self, depth: int, width: int = 64, residual: bool = False, in_features: int = 784,
                 num_classes: int = 10):
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be ≥ 1, got {width}")
        self.depth, self.residual = depth, residual
        blocks = mlp_blocks(depth)
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(in_features, width, bias=False), nn.BatchNorm1d(width),
                                  nn.ReLU())
        self.blocks = nn.Sequential(*[Block(width, residual) for _ in range(blocks)])
        self.head = nn.Linear(width, num_classes)
        init_he(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.blocks(self.stem(x)))  # (N, ...) -> (N, width) -> (N, classes)
