"""Mutant: averages the momentum buffer, b ← μ b + (1 − μ) g / d, instead of PyTorch's b ← μ b + g / d."""

import torch
from torch import Tensor

HINT = "rmsprop-momentum"


def rmsprop_update(param: Tensor, grad: Tensor, state: dict, lr: float = 0.01, alpha: float = 0.99,
                   eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
    g = grad + weight_decay * param
    v = state.setdefault("square_avg", torch.zeros_like(param))
    v.mul_(alpha).add_((1 - alpha) * g * g)
    if centered:
        g_avg = state.setdefault("grad_avg", torch.zeros_like(param))
        g_avg.mul_(alpha).add_((1 - alpha) * g)
        d = (v - g_avg * g_avg).sqrt() + eps
    else:
        d = v.sqrt() + eps
    if momentum > 0:
        b = state.setdefault("momentum_buffer", torch.zeros_like(param))
        b.mul_(momentum).add_((1 - momentum) * g / d)
        param.sub_(lr * b)
    else:
        param.sub_(lr * g / d)
