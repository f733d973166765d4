"""Mutant: the stable form with −2|x| written with abs, whose derivative at 0 is 0 (tanh'(0) comes out 0)."""

import torch
from torch import Tensor

HINT = "tanh-abs-at-zero"


def tanh(x: Tensor) -> Tensor:
    em1 = torch.expm1(-2 * x.abs())
    t = -em1 / (2 + em1)
    return torch.where(x >= 0, t, -t)
