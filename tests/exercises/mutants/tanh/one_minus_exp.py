"""Mutant: stable for large |x| but (1 − e) / (1 + e) cancels near 0 and loses the digits of tanh(1e-12)."""

import torch
from torch import Tensor

HINT = "tanh-cancellation"


def tanh(x: Tensor) -> Tensor:
    e = torch.exp(torch.where(x >= 0, -2 * x, 2 * x))
    t = (1 - e) / (1 + e)
    return torch.where(x >= 0, t, -t)
