"""Mutant: fills the tensor in place without torch.no_grad(), which an nn.Parameter refuses."""

import math

import torch
from torch import Tensor

HINT = "xavier-init-no-grad"


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    receptive_field = math.prod(tensor.shape[2:])
    fan_in, fan_out = tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return tensor.uniform_(-a, a, generator=generator)
