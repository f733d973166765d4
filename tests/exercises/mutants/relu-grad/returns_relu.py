"""Mutant: returns relu(x) itself instead of its derivative."""

import torch
from torch import Tensor

HINT = "relu-grad-formula"


def relu_grad(x: Tensor) -> Tensor:
    return x * (x > 0)
