"""Mutant: lets the gradient through ReLU at z = 0 too (mask z ≥ 0 instead of z > 0)."""

import torch
from torch import Tensor

HINT = "linear-relu-backward-relu-at-zero"


def linear_relu_backward(x: Tensor, weight: Tensor, bias: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    z = x @ weight.T + bias
    delta = grad_out * (z >= 0)
    return delta @ weight, delta.T @ x, delta.sum(dim=0)
