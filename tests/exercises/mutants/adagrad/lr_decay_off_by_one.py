"""Mutant: decays the learning rate from the first step on, lr / (1 + t · lr_decay) instead of (t − 1)."""

import torch
from torch import Tensor

HINT = "adagrad-lr-decay"


def adagrad_update(param: Tensor, grad: Tensor, state: dict, step: int, lr: float = 0.01, lr_decay: float = 0.0,
                   weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
    g = grad + weight_decay * param
    s = state.setdefault("sum", torch.full_like(param, initial_accumulator_value))
    s.add_(g * g)
    param.sub_(lr / (1 + step * lr_decay) * g / (s.sqrt() + eps))
