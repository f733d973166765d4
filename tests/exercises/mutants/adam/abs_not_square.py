"""Mutant: accumulates |g| instead of g² into the second moment."""

import torch
from torch import Tensor

HINT = "adam-second-moment"


def adam_update(param: Tensor, grad: Tensor, state: dict, step: int, lr: float = 1e-3, beta1: float = 0.9,
                beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    g = grad + weight_decay * param
    m = state.setdefault("exp_avg", torch.zeros_like(param))
    v = state.setdefault("exp_avg_sq", torch.zeros_like(param))
    m.mul_(beta1).add_((1 - beta1) * g)
    v.mul_(beta2).add_((1 - beta2) * g.abs())
    m_hat, v_hat = m / (1 - beta1**step), v / (1 - beta2**step)
    param.sub_(lr * m_hat / (v_hat.sqrt() + eps))
