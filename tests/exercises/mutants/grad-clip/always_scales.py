"""Mutant: rescales the gradients to length max_norm even when they are shorter (no min(1, ·))."""

import torch
from torch import Tensor

HINT = "grad-clip-below"


def clip_grad_norm(parameters, max_norm: float) -> Tensor:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    total = torch.sqrt(sum((g**2).sum() for g in grads))
    with torch.no_grad():
        for g in grads:
            g.mul_(max_norm / (total + 1e-6))
    return total
