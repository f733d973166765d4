"""Mutant: ignores align_corners and always puts the corner pixels' centres at ±1 (linspace(−1, 1, n))."""

import torch
from torch import Tensor

HINT = "affine-grid-align"


def affine_grid(theta: Tensor, size: list[int], align_corners: bool = False) -> Tensor:
    n, _, h, w = size
    xs = torch.linspace(-1, 1, w, dtype=theta.dtype) if w > 1 else torch.zeros(1, dtype=theta.dtype)
    ys = torch.linspace(-1, 1, h, dtype=theta.dtype) if h > 1 else torch.zeros(1, dtype=theta.dtype)
    base = torch.stack([xs.expand(h, w), ys.view(h, 1).expand(h, w), torch.ones(h, w, dtype=theta.dtype)], -1)
    return (base.view(1, h * w, 3) @ theta.transpose(1, 2)).view(n, h, w, 2)
