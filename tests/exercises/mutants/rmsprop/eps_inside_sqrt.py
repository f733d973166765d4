"""Mutant: divides by √(v + ε) instead of √v + ε."""

import torch
from torch import Tensor

HINT = "rmsprop-eps"


def rmsprop_update(param: Tensor, grad: Tensor, state: dict, lr: float = 0.01, alpha: float = 0.99,
                   eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
    g = grad + weight_decay * param
    v = state.setdefault("square_avg", torch.zeros_like(param))
    v.mul_(alpha).add_((1 - alpha) * g * g)
    if centered:
        g_avg = state.setdefault("grad_avg", torch.zeros_like(param))
        g_avg.mul_(alpha).add_((1 - alpha) * g)
        d = (v - g_avg * g_avg + eps).sqrt()
    else:
        d = (v + eps).sqrt()
    if momentum > 0:
        b = state.setdefault("momentum_buffer", torch.zeros_like(param))
        b.mul_(momentum).add_(g / d)
        param.sub_(lr * b)
    else:
        param.sub_(lr * g / d)
