"""Mutant: switches autograd back on and lets it compute the gradients."""

import torch
from torch import Tensor

HINT = "linear-relu-backward-autograd"


def linear_relu_backward(x: Tensor, weight: Tensor, bias: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    with torch.enable_grad():
        x, weight, bias = (t.detach().requires_grad_(True) for t in (x, weight, bias))
        torch.relu(x @ weight.T + bias).backward(grad_out)
    return x.grad, weight.grad, bias.grad
