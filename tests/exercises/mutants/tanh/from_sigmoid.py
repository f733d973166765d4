"""Mutant: 2σ(2x) − 1 with a stable σ: right for large |x|, but it cancels near 0."""

import torch
from torch import Tensor

HINT = "tanh-cancellation"


def tanh(x: Tensor) -> Tensor:
    e = torch.exp(torch.where(x >= 0, -2 * x, 2 * x))
    s = torch.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return 2 * s - 1
