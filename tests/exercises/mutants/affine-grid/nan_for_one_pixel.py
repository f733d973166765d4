"""Mutant: computes −1 + 2k/(n − 1) for align_corners=True even when n = 1 (0/0 = NaN)."""

import torch
from torch import Tensor

HINT = "affine-grid-unit"


def centres(size: int, align_corners: bool, dtype: torch.dtype) -> Tensor:
    k = torch.arange(size, dtype=dtype)
    return -1 + 2 * k / (size - 1) if align_corners else (2 * k + 1) / size - 1


def affine_grid(theta: Tensor, size: list[int], align_corners: bool = False) -> Tensor:
    n, _, h, w = size
    ys, xs = torch.meshgrid(centres(h, align_corners, theta.dtype), centres(w, align_corners, theta.dtype),
                            indexing="ij")
    base = torch.stack([xs, ys, torch.ones_like(xs)], -1)
    return torch.einsum("hwk,nck->nhwc", base, theta)
