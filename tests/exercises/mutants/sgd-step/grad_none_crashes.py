"""Mutant: does not skip parameters without a gradient (None * lr raises)."""

import torch
from torch import Tensor

HINT = "sgd-step-skip-none"


def sgd_step(params: list[Tensor], lr: float, weight_decay: float = 0.0) -> None:
    with torch.no_grad():
        for p in params:
            p -= lr * (p.grad + weight_decay * p)
