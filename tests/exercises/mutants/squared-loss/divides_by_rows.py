"""Mutant: divides the sum by len(y), the number of rows, instead of the number of elements."""

import torch
from torch import Tensor

HINT = "squared-loss-mean"


def squared_loss(y_hat: Tensor, y: Tensor) -> Tensor:
    return ((y_hat - y) ** 2 / 2).sum() / len(y)
