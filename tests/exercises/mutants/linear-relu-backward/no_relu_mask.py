"""Mutant: forgets the ReLU on the way back and sends the upstream gradient straight into the linear layer."""

import torch
from torch import Tensor

HINT = "linear-relu-backward-mask"


def linear_relu_backward(x: Tensor, weight: Tensor, bias: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    delta = grad_out
    return delta @ weight, delta.T @ x, delta.sum(dim=0)
