"""Mutant: multiplies by the weight as stored, x @ W, instead of x @ Wᵀ."""

import torch
from torch import Tensor

HINT = "linear-transposed"


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    out = x @ weight
    return out if bias is None else out + bias
