"""Mutant: `running_mean = …` and `running_var = …` rebind local names; the caller's buffers never change."""

import torch
from torch import Tensor

HINT = "batch-norm-running-mean"


def batch_norm(x: Tensor, gamma: Tensor, beta: Tensor, running_mean: Tensor, running_var: Tensor,
               training: bool, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    axes = [0, *range(2, x.dim())]
    shape = (1, x.shape[1]) + (1,) * (x.dim() - 2)
    if training:
        m = x.numel() // x.shape[1]
        mean = x.mean(dim=axes)
        var = ((x - mean.reshape(shape)) ** 2).mean(dim=axes)
        running_mean = (1 - momentum) * running_mean + momentum * mean.detach()
        running_var = (1 - momentum) * running_var + momentum * var.detach() * m / (m - 1)
    else:
        mean, var = running_mean, running_var
    return gamma.reshape(shape) * (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps) + beta.reshape(shape)
