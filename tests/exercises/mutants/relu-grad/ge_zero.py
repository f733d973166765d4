"""Mutant: 1 at x = 0 too (x >= 0), against torch's convention relu'(0) = 0."""

import torch
from torch import Tensor

HINT = "relu-grad-at-zero"


def relu_grad(x: Tensor) -> Tensor:
    return (x >= 0).to(x.dtype)
