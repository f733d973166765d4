"""Mutant: takes fan_in and fan_out from the first two dimensions only, forgetting a convolution's receptive field."""

import math

import torch
from torch import Tensor

HINT = "xavier-init-conv-fans"


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    fan_out, fan_in = tensor.shape[0], tensor.shape[1]
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.uniform_(-a, a, generator=generator)
