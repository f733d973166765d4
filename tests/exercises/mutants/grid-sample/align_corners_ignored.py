"""Mutant: ignores align_corners and always maps ±1 to the corner centres, u = (x + 1)/2 · (W − 1)."""

import torch
from torch import Tensor

HINT = "grid-sample-align"


def pixel(image: Tensor, row: Tensor, col: Tensor) -> Tensor:
    """image[n, :, row, col] (N, C, P) at integer positions (N, P), 0 outside the image."""
    n, c, h, w = image.shape
    inside = (row >= 0) & (row < h) & (col >= 0) & (col < w)
    index = torch.where(inside, row * w + col, 0).long()
    values = image.reshape(n, c, h * w).gather(2, index.unsqueeze(1).expand(n, c, -1))
    return values * inside.unsqueeze(1)


def grid_sample(input: Tensor, grid: Tensor, align_corners: bool = False) -> Tensor:
    n, c, h, w = input.shape
    u = ((grid[..., 0] + 1) / 2 * (w - 1)).reshape(n, -1)
    v = ((grid[..., 1] + 1) / 2 * (h - 1)).reshape(n, -1)
    u0, v0 = u.floor(), v.floor()
    a, b = (u - u0).unsqueeze(1), (v - v0).unsqueeze(1)
    out = ((1 - a) * (1 - b) * pixel(input, v0, u0) + a * (1 - b) * pixel(input, v0, u0 + 1)
           + (1 - a) * b * pixel(input, v0 + 1, u0) + a * b * pixel(input, v0 + 1, u0 + 1))
    return out.reshape(n, c, *grid.shape[1:3])
