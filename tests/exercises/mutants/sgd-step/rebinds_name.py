"""Mutant: p = p - lr * g makes a new tensor; the caller's parameters never move."""

import torch
from torch import Tensor

HINT = "sgd-step-in-place"


def sgd_step(params: list[Tensor], lr: float, weight_decay: float = 0.0) -> None:
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p = p - lr * (p.grad + weight_decay * p)
