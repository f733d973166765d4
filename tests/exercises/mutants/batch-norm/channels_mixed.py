"""Mutant: computes the statistics of x.reshape(-1, C), which for (N, C, H, W) input mixes channels up
(C is not the last axis) — right for (N, C) input only."""

import torch
from torch import Tensor

HINT = "batch-norm-channel-axis"


def batch_norm(x: Tensor, gamma: Tensor, beta: Tensor, running_mean: Tensor, running_var: Tensor,
               training: bool, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    c = x.shape[1]
    shape = (1, c) + (1,) * (x.dim() - 2)
    if training:
        flat = x.reshape(-1, c)  # meant: one row per value, one column per channel
        m = flat.shape[0]
        mean = flat.mean(dim=0)
        var = ((flat - mean) ** 2).mean(dim=0)
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * m / (m - 1))
    else:
        mean, var = running_mean, running_var
    return gamma.reshape(shape) * (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps) + beta.reshape(shape)
