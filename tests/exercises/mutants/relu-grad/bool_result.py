"""Mutant: returns the comparison itself, a bool tensor, not x's dtype."""

import torch
from torch import Tensor

HINT = "relu-grad-dtype"


def relu_grad(x: Tensor) -> Tensor:
    return x > 0
