"""Mutant: right bound, but draws from the global RNG with torch.rand, ignoring the generator it is given."""

import math

import torch
from torch import Tensor

HINT = "xavier-init-generator"


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    receptive_field = math.prod(tensor.shape[2:])
    fan_in, fan_out = tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.copy_((torch.rand(tensor.shape, dtype=tensor.dtype) * 2 - 1) * a)
