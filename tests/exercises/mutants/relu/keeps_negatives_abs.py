"""Mutant: |x| instead of max(x, 0): negative values flip sign instead of becoming 0."""

import torch
from torch import Tensor

HINT = "relu-formula"


def relu(x: Tensor) -> Tensor:
    return x.abs()
