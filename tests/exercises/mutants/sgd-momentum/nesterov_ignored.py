"""Mutant: steps along the buffer even with nesterov=True (forgets d = g + μ b)."""

import torch
from torch import Tensor

HINT = "sgd-momentum-nesterov"


def sgd_momentum_update(param: Tensor, grad: Tensor, state: dict, lr: float, momentum: float = 0.0,
                        dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:
    g = grad + weight_decay * param
    if momentum:
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = g.clone()
        else:
            state["momentum_buffer"].mul_(momentum).add_((1 - dampening) * g)
        g = state["momentum_buffer"]
    param.sub_(lr * g)
