"""Mutant: starts the sum at 0, ignoring initial_accumulator_value."""

import torch
from torch import Tensor

HINT = "adagrad-initial-accumulator"


def adagrad_update(param: Tensor, grad: Tensor, state: dict, step: int, lr: float = 0.01, lr_decay: float = 0.0,
                   weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
    g = grad + weight_decay * param
    s = state.setdefault("sum", torch.zeros_like(param))
    s.add_(g * g)
    param.sub_(lr / (1 + (step - 1) * lr_decay) * g / (s.sqrt() + eps))
