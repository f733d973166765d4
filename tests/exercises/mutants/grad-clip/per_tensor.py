"""Mutant: returns the right total norm but clips each gradient by its own norm instead of the global one."""

import torch
from torch import Tensor

HINT = "grad-clip-global"


def clip_grad_norm(parameters, max_norm: float) -> Tensor:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    total = torch.sqrt(sum((g**2).sum() for g in grads))
    with torch.no_grad():
        for g in grads:
            g.mul_(torch.clamp(max_norm / (g.norm() + 1e-6), max=1.0))
    return total
