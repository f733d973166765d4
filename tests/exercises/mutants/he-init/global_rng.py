"""Mutant: right σ, but draws with torch.randn from the global RNG, ignoring the generator it is given."""

import math

import torch
from torch import Tensor

HINT = "he-init-generator"

GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": math.sqrt(2.0)}


def kaiming_normal_(tensor: Tensor, mode: str = "fan_in", nonlinearity: str = "relu",
                    negative_slope: float = 0.01, generator: torch.Generator | None = None) -> Tensor:
    receptive_field = math.prod(tensor.shape[2:])
    fan = (tensor.shape[1] if mode == "fan_in" else tensor.shape[0]) * receptive_field
    gain = GAINS.get(nonlinearity) or math.sqrt(2 / (1 + negative_slope**2))
    with torch.no_grad():
        return tensor.copy_(torch.randn(tensor.shape, dtype=tensor.dtype) * gain / math.sqrt(fan))
