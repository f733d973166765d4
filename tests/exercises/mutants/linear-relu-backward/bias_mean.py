"""Mutant: averages the bias gradient over the batch instead of summing it."""

import torch
from torch import Tensor

HINT = "linear-relu-backward-bias"


def linear_relu_backward(x: Tensor, weight: Tensor, bias: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    z = x @ weight.T + bias
    delta = grad_out * (z > 0)
    return delta @ weight, delta.T @ x, delta.mean(dim=0)
