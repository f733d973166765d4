"""Mutant: torch.where(x > 0, x, 0) turns NaN into 0 (NaN > 0 is False)."""

import torch
from torch import Tensor

HINT = "relu-nan"


def relu(x: Tensor) -> Tensor:
    return torch.where(x > 0, x, torch.zeros_like(x))
