"""Mutant: builds the base grid as (y, x, 1) — row coordinate first — instead of (x, y, 1)."""

import torch
from torch import Tensor

HINT = "affine-grid-xy"


def centres(size: int, align_corners: bool, dtype: torch.dtype) -> Tensor:
    if size == 1:
        return torch.zeros(1, dtype=dtype)
    k = torch.arange(size, dtype=dtype)
    return -1 + 2 * k / (size - 1) if align_corners else (2 * k + 1) / size - 1


def affine_grid(theta: Tensor, size: list[int], align_corners: bool = False) -> Tensor:
    n, _, h, w = size
    ys, xs = torch.meshgrid(centres(h, align_corners, theta.dtype), centres(w, align_corners, theta.dtype),
                            indexing="ij")
    base = torch.stack([ys, xs, torch.ones_like(xs)], -1)            # (H, W, 3): y first — wrong
    return torch.einsum("hwk,nck->nhwc", base, theta)
