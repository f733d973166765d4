"""Mutant: steps along the gradient (θ + lr·g) instead of against it."""

import torch
from torch import Tensor

HINT = "sgd-step-direction"


def sgd_step(params: list[Tensor], lr: float, weight_decay: float = 0.0) -> None:
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p += lr * (p.grad + weight_decay * p)
