"""Mutant: iterates over `parameters` twice, so a generator (model.parameters()) is exhausted before the clipping."""

import torch
from torch import Tensor

HINT = "grad-clip-generator"


def clip_grad_norm(parameters, max_norm: float) -> Tensor:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    total = torch.sqrt(sum((p.grad**2).sum() for p in parameters if p.grad is not None))
    with torch.no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.mul_(torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total
