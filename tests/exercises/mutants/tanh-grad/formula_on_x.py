"""Mutant: 1 − x², the formula meant for the output tanh(x) applied to x itself."""

import torch
from torch import Tensor

HINT = "tanh-grad-of-output"


def tanh_grad(x: Tensor) -> Tensor:
    return 1 - x ** 2
