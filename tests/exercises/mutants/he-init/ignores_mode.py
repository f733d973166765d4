"""Mutant: always divides by fan_in, whatever the mode."""

import math

import torch
from torch import Tensor

HINT = "he-init-mode"

GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": math.sqrt(2.0)}


def kaiming_normal_(tensor: Tensor, mode: str = "fan_in", nonlinearity: str = "relu",
                    negative_slope: float = 0.01, generator: torch.Generator | None = None) -> Tensor:
    fan_in = tensor.shape[1] * math.prod(tensor.shape[2:])
    gain = GAINS.get(nonlinearity) or math.sqrt(2 / (1 + negative_slope**2))
    with torch.no_grad():
        return tensor.normal_(0.0, gain / math.sqrt(fan_in), generator=generator)
