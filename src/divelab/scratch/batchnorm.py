"""Batch normalisation (Ioffe & Szegedy, 2015): standardise each channel over the batch.

For every channel ``c`` (a feature of a fully connected layer, or a channel of a
convolution, pooled over all positions):

    training:   μ = mean(x_c),  σ² = mean((x_c − μ)²)           (the batch's own statistics)
                y = γ_c (x_c − μ) / √(σ² + ε) + β_c
                running_mean ← (1 − momentum) · running_mean + momentum · μ
                running_var  ← (1 − momentum) · running_var  + momentum · σ² · m / (m − 1)
    evaluation: y = γ_c (x_c − running_mean) / √(running_var + ε) + β_c

where ``m`` is the number of values pooled per channel (batch size, times height × width
for images). Normalising uses the biased variance ``σ²``; the running estimate stores the
*unbiased* one, ``σ² · m/(m − 1)``, exactly as PyTorch does. (Storing the biased variance
instead is a common mistake in hand-written versions; it makes evaluation-mode outputs
differ from PyTorch's.) Defaults as in PyTorch: momentum 0.1, ε = 1e-5. As in PyTorch, the
layer's ``momentum=None`` keeps the cumulative average instead: the ``t``-th training batch
updates with ``momentum = 1 / t`` (``t`` = ``num_batches_tracked``), so the running statistics
are the plain means of the batches' statistics so far.

Twins: torch.nn.functional.batch_norm, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor, nn

from divelab.scratch.checks import check_tensor


def _check_momentum(function: str, momentum: object, allow_none: bool) -> None:
    """A TypeError unless ``momentum`` is a real number (or None where allowed), a ValueError unless in [0, 1]."""
    if momentum is None and allow_none:
        return
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
        allowed = "a float in [0, 1] or None (the cumulative average)" if allow_none else "a float in [0, 1]"
        raise TypeError(f"{function}(): argument 'momentum' must be {allowed}, not {type(momentum).__name__}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{function}(): argument 'momentum' must be in [0, 1], got {momentum}")


def _channel_shape(x: Tensor) -> tuple[int, ...]:
    """Shape that broadcasts a per-channel vector against ``x``: (1, C) or (1, C, 1, 1)."""
    return (1, x.shape[1]) + (1,) * (x.dim() - 2)


def batch_norm(x: Tensor, gamma: Tensor, beta: Tensor, running_mean: Tensor, running_var: Tensor,
               training: bool, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise ``x`` of shape (N, C) or (N, C, H, W) per channel, then scale by γ and shift by β.

    In training mode the batch statistics are used and ``running_mean`` / ``running_var``
    (shape (C,)) are updated in place (see the module docstring for the formulas); in
    evaluation mode the running statistics are used and nothing is updated. Gradients
    flow to ``x``, ``gamma`` and ``beta`` by autograd.

    Twin: torch.nn.functional.batch_norm(x, running_mean, running_var, gamma, beta, training, momentum, eps)
    """
    check_tensor("batch_norm", "x", x)
    if x.dim() < 2:
        raise ValueError(f"batch_norm needs input of shape (N, C, ...), got {tuple(x.shape)}")
    axes = [0, *range(2, x.dim())]  # every axis except the channel axis
    shape = _channel_shape(x)
    if training:
        _check_momentum("batch_norm", momentum, allow_none=False)
        m = x.numel() // x.shape[1]  # values per channel
        if m < 2:
            raise ValueError(f"batch norm in training mode needs more than 1 value per channel, got input {tuple(x.shape)}")
        mean = x.mean(dim=axes)                                   # (C,)
        var = ((x - mean.reshape(shape)) ** 2).mean(dim=axes)     # (C,), biased: divides by m
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * m / (m - 1))  # unbiased
    else:
        mean, var = running_mean, running_var
    x_hat = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)


class BatchNormScratch(nn.Module):
    """A batch-norm layer around :func:`batch_norm`, for (N, C) inputs (``dims=2``, after a
    Linear layer) or (N, C, H, W) inputs (``dims=4``, after a convolution).

    Its parameters and buffers carry PyTorch's names — ``weight`` (γ, starts at 1), ``bias``
    (β, starts at 0), ``running_mean`` (0), ``running_var`` (1), ``num_batches_tracked`` —
    so a state dict moves freely between this layer and ``nn.BatchNorm1d/2d``. ``momentum=None``
    is PyTorch's cumulative average (see the module docstring).

    Twins: torch.nn.BatchNorm1d (dims=2), torch.nn.BatchNorm2d (dims=4)
    """

    def __init__(self, num_features: int, dims: int = 2, momentum: float | None = 0.1, eps: float = 1e-5):
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"BatchNormScratch(): argument 'num_features' must be a positive integer, "
                             f"got {num_features!r}")
        if dims not in (2, 4):
            raise ValueError(f"dims must be 2 (fully connected) or 4 (convolutional), got {dims}")
        _check_momentum("BatchNormScratch", momentum, allow_none=True)
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < eps < math.inf:
            raise ValueError(f"BatchNormScratch(): argument 'eps' must be a positive number, got {eps!r}")
        self.num_features, self.dims, self.momentum, self.eps = num_features, dims, momentum, eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != self.dims:
            raise ValueError(f"BatchNormScratch(dims={self.dims}) expects {self.dims}-D input, got shape {tuple(x.shape)}")
        momentum = self.momentum
        if self.training:
            self.num_batches_tracked.add_(1)
            if momentum is None:  # the cumulative average, as torch computes it (a host sync on a GPU, as there)
                momentum = 1.0 / float(self.num_batches_tracked)
        return batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                          self.training, 0.0 if momentum is None else momentum, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, dims={self.dims}, momentum={self.momentum}, eps={self.eps}"
