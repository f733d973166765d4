"""Mutant: uses the ReLU gain √2 for leaky_relu too, ignoring negative_slope."""

import math

import torch
from torch import Tensor

HINT = "he-init-leaky"

GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": math.sqrt(2.0), "leaky_relu": math.sqrt(2.0)}


def kaiming_normal_(tensor: Tensor, mode: str = "fan_in", nonlinearity: str = "relu",
                    negative_slope: float = 0.01, generator: torch.Generator | None = None) -> Tensor:
    receptive_field = math.prod(tensor.shape[2:])
    fan = (tensor.shape[1] if mode == "fan_in" else tensor.shape[0]) * receptive_field
    with torch.no_grad():
        return tensor.normal_(0.0, GAINS[nonlinearity] / math.sqrt(fan), generator=generator)
