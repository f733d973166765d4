"""Mutant: sums the halved squared errors instead of averaging them."""

import torch
from torch import Tensor

HINT = "squared-loss-mean"


def squared_loss(y_hat: Tensor, y: Tensor) -> Tensor:
    return ((y_hat - y) ** 2 / 2).sum()
