"""Mutant: starts the buffer at 0, so the first step is damped too: b₁ = (1 − τ) g instead of g."""

import torch
from torch import Tensor

HINT = "sgd-momentum-dampening"


def sgd_momentum_update(param: Tensor, grad: Tensor, state: dict, lr: float, momentum: float = 0.0,
                        dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:
    g = grad + weight_decay * param
    if momentum:
        b = state.setdefault("momentum_buffer", torch.zeros_like(param))
        b.mul_(momentum).add_((1 - dampening) * g)
        g = g + momentum * b if nesterov else b
    param.sub_(lr * g)
