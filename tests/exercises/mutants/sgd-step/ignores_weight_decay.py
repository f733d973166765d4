"""Mutant: ignores weight_decay (plain SGD step always)."""

import torch
from torch import Tensor

HINT = "sgd-step-weight-decay"


def sgd_step(params: list[Tensor], lr: float, weight_decay: float = 0.0) -> None:
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
