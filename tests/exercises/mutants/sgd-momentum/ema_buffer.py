"""Mutant: keeps an exponential average b ← μ b + (1 − μ) g from b = 0 (another convention, not PyTorch's)."""

import torch
from torch import Tensor

HINT = "sgd-momentum-buffer"


def sgd_momentum_update(param: Tensor, grad: Tensor, state: dict, lr: float, momentum: float = 0.0,
                        dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:
    g = grad + weight_decay * param
    if momentum:
        b = state.setdefault("momentum_buffer", torch.zeros_like(param))
        b.mul_(momentum).add_((1 - momentum) * g)
        g = g + momentum * b if nesterov else b
    param.sub_(lr * g)
