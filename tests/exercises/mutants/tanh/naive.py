"""Mutant: (exp(x) − exp(−x)) / (exp(x) + exp(−x)): inf / inf = NaN for large |x|."""

import torch
from torch import Tensor

HINT = "tanh-overflow"


def tanh(x: Tensor) -> Tensor:
    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
