"""Mutant: σ = 1 / √fan, forgetting the gain (√2 for ReLU)."""

import math

import torch
from torch import Tensor

HINT = "he-init-std"


def kaiming_normal_(tensor: Tensor, mode: str = "fan_in", nonlinearity: str = "relu",
                    negative_slope: float = 0.01, generator: torch.Generator | None = None) -> Tensor:
    receptive_field = math.prod(tensor.shape[2:])
    fan = (tensor.shape[1] if mode == "fan_in" else tensor.shape[0]) * receptive_field
    with torch.no_grad():
        return tensor.normal_(0.0, 1 / math.sqrt(fan), generator=generator)
