"""Mutant: stores the biased batch variance σ² in running_var (PyTorch stores σ² · m / (m − 1))."""

import torch
from torch import Tensor

HINT = "batch-norm-running-var"


def batch_norm(x: Tensor, gamma: Tensor, beta: Tensor, running_mean: Tensor, running_var: Tensor,
               training: bool, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    axes = [0, *range(2, x.dim())]
    shape = (1, x.shape[1]) + (1,) * (x.dim() - 2)
    if training:
        mean = x.mean(dim=axes)
        var = ((x - mean.reshape(shape)) ** 2).mean(dim=axes)
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var)
    else:
        mean, var = running_mean, running_var
    return gamma.reshape(shape) * (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps) + beta.reshape(shape)
