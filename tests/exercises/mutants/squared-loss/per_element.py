"""Mutant: returns the per-element losses, never reduced to one number."""

import torch
from torch import Tensor

HINT = "squared-loss-scalar"


def squared_loss(y_hat: Tensor, y: Tensor) -> Tensor:
    return (y_hat - y) ** 2 / 2
