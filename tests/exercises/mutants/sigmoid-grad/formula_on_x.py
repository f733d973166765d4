"""Mutant: x(1 − x), the formula meant for the output σ(x) applied to x itself."""

import torch
from torch import Tensor

HINT = "sigmoid-grad-of-output"


def sigmoid_grad(x: Tensor) -> Tensor:
    return x * (1 - x)
