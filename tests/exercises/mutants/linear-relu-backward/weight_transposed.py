"""Mutant: writes ∂L/∂W as xᵀ δ, of shape (in, out) — the transpose of the weight's shape."""

import torch
from torch import Tensor

HINT = "linear-relu-backward-weight-shape"


def linear_relu_backward(x: Tensor, weight: Tensor, bias: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    z = x @ weight.T + bias
    delta = grad_out * (z > 0)
    return delta @ weight, x.T @ delta, delta.sum(dim=0)
