"""Mutant: 1 − tanh² with tanh from exp(x) and exp(−x): inf / inf = NaN for large |x|."""

import torch
from torch import Tensor

HINT = "tanh-grad-overflow"


def tanh_grad(x: Tensor) -> Tensor:
    t = (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
    return 1 - t ** 2
