"""Mutant: σ(1 − σ) with a naive σ = 1 / (1 + exp(−x)): the values survive, the second derivative is NaN."""

import torch
from torch import Tensor

HINT = "sigmoid-grad-overflow"


def sigmoid_grad(x: Tensor) -> Tensor:
    s = 1 / (1 + torch.exp(-x))
    return s * (1 - s)
