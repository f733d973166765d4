"""Mutant: the plain mean squared error, without the ½."""

import torch
from torch import Tensor

HINT = "squared-loss-half"


def squared_loss(y_hat: Tensor, y: Tensor) -> Tensor:
    return ((y_hat - y) ** 2).mean()
