"""Mutant: `param = param − lr · d` rebinds the local name; the caller's parameter never moves."""

import torch
from torch import Tensor

HINT = "sgd-momentum-in-place"


def sgd_momentum_update(param: Tensor, grad: Tensor, state: dict, lr: float, momentum: float = 0.0,
                        dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:
    g = grad + weight_decay * param
    if momentum:
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = g.clone()
        else:
            state["momentum_buffer"] = momentum * state["momentum_buffer"] + (1 - dampening) * g
        b = state["momentum_buffer"]
        g = g + momentum * b if nesterov else b
    param = param - lr * g
