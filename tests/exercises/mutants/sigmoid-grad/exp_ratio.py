"""Mutant: exp(−x) / (1 + exp(−x))², which is inf / inf = NaN for x ≪ 0."""

import torch
from torch import Tensor

HINT = "sigmoid-grad-overflow"


def sigmoid_grad(x: Tensor) -> Tensor:
    e = torch.exp(-x)
    return e / (1 + e) ** 2
