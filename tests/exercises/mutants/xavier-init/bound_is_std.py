"""Mutant: uses σ = gain · √(2 / (fan_in + fan_out)) as the bound of the uniform (forgets the √3)."""

import math

import torch
from torch import Tensor

HINT = "xavier-init-bound"


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    receptive_field = math.prod(tensor.shape[2:])
    fan_in, fan_out = tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field
    a = gain * math.sqrt(2.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.uniform_(-a, a, generator=generator)
