"""Mutant: updates the leaves in place outside torch.no_grad(), which autograd refuses."""

import torch
from torch import Tensor

HINT = "sgd-step-no-grad"


def sgd_step(params: list[Tensor], lr: float, weight_decay: float = 0.0) -> None:
    for p in params:
        if p.grad is not None:
            p -= lr * (p.grad + weight_decay * p)
