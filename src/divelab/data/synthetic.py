"""Small generated data sets, reproducible from a seed."""

from __future__ import annotations

import torch
from torch import Tensor


def linear_data(w: Tensor, b: float, n: int, noise: float = 0.01, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Samples of ``y = X w + b + ε`` with ``X ~ N(0, I)`` and ``ε ~ N(0, noise²)``.

    Returns ``X`` of shape (n, len(w)) and ``y`` of shape (n,).
    """
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, len(w), generator=gen)
    y = X @ w + b + noise * torch.randn(n, generator=gen)
    return X, y
