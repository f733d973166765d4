"""Mutant: keeps the moments under its own names (state['m'], state['v']) instead of PyTorch's."""

import torch
from torch import Tensor

HINT = "adam-state"


def adam_update(param: Tensor, grad: Tensor, state: dict, step: int, lr: float = 1e-3, beta1: float = 0.9,
                beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    g = grad + weight_decay * param
    m = state.setdefault("m", torch.zeros_like(param))
    v = state.setdefault("v", torch.zeros_like(param))
    m.mul_(beta1).add_((1 - beta1) * g)
    v.mul_(beta2).add_((1 - beta2) * g * g)
    m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
    param.sub_(lr * m_hat / (v_hat.sqrt() + eps))
