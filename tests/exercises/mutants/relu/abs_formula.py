"""Mutant: (x + |x|) / 2: right values, but gradient ½ at x = 0."""

import torch
from torch import Tensor

HINT = "relu-gradient-at-zero"


def relu(x: Tensor) -> Tensor:
    return (x + x.abs()) / 2
