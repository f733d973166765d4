"""Spatial transformer (Jaderberg et al., 2015, https://arxiv.org/abs/1506.02025): a layer
that learns, per image, an affine map of where to look, and resamples the image there.

Three pieces, each differentiable so the whole layer trains by backpropagation:

1. a *localisation network* reads the image and predicts ``θ`` (N, 2, 3);
2. :func:`affine_grid` turns ``θ`` into a sampling grid: for every output pixel ``p`` the
   point ``θ · [p, 1]`` of the input to read;
3. :func:`grid_sample` reads the input there by bilinear interpolation (zeros outside).

Coordinates are *normalised*: ``x = −1`` is the left edge of the image and ``x = +1`` the
right edge (likewise ``y``, top to bottom), whatever the size. ``align_corners`` says
what "edge" means: with ``True`` ±1 are the centres of the corner pixels, with ``False``
(PyTorch's default) ±1 are the outer borders of the corner pixels.

:class:`SpatialTransformerScratch` puts the three together with the hand-written
:func:`affine_grid` and :func:`grid_sample`; its library twin,
:class:`divelab.models.stn.SpatialTransformer`, has the same localisation net and parameter
names and calls ``F.affine_grid`` / ``F.grid_sample``, so a state dict moves between the two.

Twins: torch.nn.functional.affine_grid, torch.nn.functional.grid_sample (mode="bilinear",
padding_mode="zeros").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # θ = [I | 0], flattened row by row


def pixel_centres(size: int, align_corners: bool, dtype: torch.dtype, device: torch.device | None = None) -> Tensor:
    """Normalised coordinates of the ``size`` pixel centres along one axis, ``k = 0 … size − 1``:

    ``align_corners=True``:  ``c_k = −1 + 2k / (size − 1)``  (corner centres at ±1)
    ``align_corners=False``: ``c_k = (2k + 1) / size − 1``   (pixel borders at ±1)

    A single pixel sits at 0 in both conventions.
    """
    k = torch.arange(size, dtype=dtype, device=device)
    if size == 1:
        return torch.zeros(1, dtype=dtype, device=device)
    if align_corners:
        return -1 + 2 * k / (size - 1)
    return (2 * k + 1) / size - 1


def affine_grid(theta: Tensor, size: list[int] | tuple[int, ...] | torch.Size, align_corners: bool = False) -> Tensor:
    """The sampling grid (N, H, W, 2) of the affine maps ``θ`` (N, 2, 3) for output ``size`` (N, C, H, W).

    For output pixel ``(i, j)`` (row, column) with normalised centre ``(x_j, y_i)``:

        grid[n, i, j] = θ_n · [x_j, y_i, 1]ᵀ     i.e.  (x', y') = A_n (x_j, y_i) + t_n
        align_corners=True:   x_j = −1 + 2j / (W − 1),   y_i = −1 + 2i / (H − 1)
        align_corners=False:  x_j = (2j + 1) / W − 1,    y_i = (2i + 1) / H − 1

    (a side of one pixel has its centre at 0; :func:`pixel_centres`).

    ``grid[..., 0]`` is the x (column) and ``grid[..., 1]`` the y (row) coordinate of the
    input point to read, normalised in the same convention. ``θ = [I | 0]`` gives every
    pixel its own centre.

    Twin: torch.nn.functional.affine_grid(theta, size, align_corners)
    """
    if not theta.is_floating_point() or theta.dim() != 3 or tuple(theta.shape[1:]) != (2, 3):
        raise ValueError(f"theta must be a floating-point tensor of shape (N, 2, 3), got {theta.dtype} "
                         f"{tuple(theta.shape)}")
    if len(size) != 4 or min(size) < 1:
        raise ValueError(f"size must be (N, C, H, W) with every entry ≥ 1, got {tuple(size)}")
    n, _c, h, w = size
    if n != len(theta):
        raise ValueError(f"size asks for {n} grids but theta holds {len(theta)} matrices")
    xs = pixel_centres(w, align_corners, theta.dtype, theta.device)
    ys = pixel_centres(h, align_corners, theta.dtype, theta.device)
    base = torch.stack([xs.expand(h, w), ys.view(h, 1).expand(h, w), torch.ones(h, w, dtype=theta.dtype,
                                                                              device=theta.device)], dim=-1)
    # (H·W, 3) @ (N, 3, 2) -> (N, H·W, 2): row p of the result is (θ [x_p, y_p, 1]ᵀ)ᵀ
    return (base.view(1, h * w, 3) @ theta.transpose(1, 2)).view(n, h, w, 2)


def unnormalize(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    """Normalised coordinate → pixel index (fractional), the inverse of :func:`pixel_centres`:

    ``align_corners=True``:  ``i = (c + 1) / 2 · (size − 1)``
    ``align_corners=False``: ``i = ((c + 1) · size − 1) / 2``
    """
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _corner(flat: Tensor, ix: Tensor, iy: Tensor, height: int, width: int) -> Tensor:
    """Pixels ``flat[n, :, iy, ix]`` (N, C, P) at integer positions (N, P); 0 where outside the image."""
    inside = (ix >= 0) & (ix < width) & (iy >= 0) & (iy < height)  # (N, P); False for NaN
    index = torch.where(inside, iy * width + ix, 0).long()  # any valid index outside (masked below), never NaN
    values = flat.gather(2, index.unsqueeze(1).expand(-1, flat.shape[1], -1))  # (N, C, P)
    return values * inside.unsqueeze(1).to(flat.dtype)


def grid_sample(input: Tensor, grid: Tensor, align_corners: bool = False) -> Tensor:
    """Read ``input`` (N, C, H, W) at the normalised points ``grid`` (N, H', W', 2) → (N, C, H', W').

    Each point ``(x, y)`` becomes a fractional pixel position ``(u, v)`` (:func:`unnormalize`);
    with ``u₀ = ⌊u⌋, v₀ = ⌊v⌋, a = u − u₀, b = v − v₀`` the value is the bilinear blend of
    the four surrounding pixels

        out = (1−a)(1−b) I[v₀, u₀] + a(1−b) I[v₀, u₀+1] + (1−a) b I[v₀+1, u₀] + a b I[v₀+1, u₀+1]

    where a pixel outside the image counts as 0 (zero padding). As in torch, a NaN or infinite
    coordinate gives NaN (its fraction is NaN) and a huge finite one 0. The output is linear in
    ``input`` and piecewise bilinear in ``grid``; autograd differentiates both (the floor
    has gradient 0, so ``∂out/∂u = (1−b)(I[v₀,u₀+1] − I[v₀,u₀]) + b(I[v₀+1,u₀+1] − I[v₀+1,u₀])``).

    Twin: torch.nn.functional.grid_sample(input, grid, mode="bilinear", padding_mode="zeros",
    align_corners)
    """
    if input.dim() != 4 or grid.dim() != 4 or grid.shape[-1] != 2 or len(grid) != len(input):
        raise ValueError(f"expected input (N, C, H, W) and grid (N, H', W', 2) with the same N, got "
                         f"{tuple(input.shape)} and {tuple(grid.shape)}")
    if not input.is_floating_point() or grid.dtype != input.dtype:
        raise ValueError(f"input and grid must share one floating-point dtype, got {input.dtype} and {grid.dtype}")
    n, c, h, w = input.shape
    _n, h_out, w_out, _two = grid.shape
    u = unnormalize(grid[..., 0], w, align_corners).reshape(n, -1)  # (N, P) column positions
    v = unnormalize(grid[..., 1], h, align_corners).reshape(n, -1)  # (N, P) row positions
    u0, v0 = u.floor(), v.floor()
    a, b = (u - u0).unsqueeze(1), (v - v0).unsqueeze(1)  # (N, 1, P) fractions, broadcast over channels
    flat = input.reshape(n, c, h * w)
    out = ((1 - a) * (1 - b) * _corner(flat, u0, v0, h, w) + a * (1 - b) * _corner(flat, u0 + 1, v0, h, w)
           + (1 - a) * b * _corner(flat, u0, v0 + 1, h, w) + a * b * _corner(flat, u0 + 1, v0 + 1, h, w))
    return out.view(n, c, h_out, w_out)


def _conv_out(size: int, kernel: int) -> int:
    """Side after a valid ``kernel``×``kernel`` convolution and a 2×2 max-pool."""
    return (size - kernel + 1) // 2


def localization_net(in_channels: int = 1, height: int = 28, width: int = 28, hidden: int = 32) -> nn.Sequential:
    """The localisation net of both spatial transformers (as in PyTorch's STN tutorial), starting at ``θ = [I | 0]``::

        Conv(C→8, 7×7) → MaxPool 2 → ReLU → Conv(8→10, 5×5) → MaxPool 2 → ReLU
        → Flatten → Linear(→hidden) → ReLU → Linear(hidden→6) = θ (row by row)

    The last layer starts with weight 0 and bias ``[1, 0, 0, 0, 1, 0]``, so at initialisation
    every image gets the identity map. (Plain layers: the topic here is the sampling, not the net.)
    """
    side_h, side_w = _conv_out(_conv_out(height, 7), 5), _conv_out(_conv_out(width, 7), 5)
    if in_channels < 1 or hidden < 1 or side_h < 1 or side_w < 1:
        raise ValueError(f"need in_channels ≥ 1, hidden ≥ 1 and images of at least 18×18 for the "
                         f"localisation net, got {in_channels}×{height}×{width} and hidden={hidden}")
    net = nn.Sequential(
        nn.Conv2d(in_channels, 8, kernel_size=7), nn.MaxPool2d(2), nn.ReLU(),   # (N, 8, (H−6)/2, ·)
        nn.Conv2d(8, 10, kernel_size=5), nn.MaxPool2d(2), nn.ReLU(),            # (N, 10, side_h, side_w)
        nn.Flatten(), nn.Linear(10 * side_h * side_w, hidden), nn.ReLU(),
        nn.Linear(hidden, 6),
    )
    last = net[-1]
    nn.init.zeros_(last.weight)
    with torch.no_grad():
        last.bias.copy_(torch.tensor(IDENTITY))
    return net


class SpatialTransformerScratch(nn.Module):
    """Localisation net → ``θ`` → :func:`affine_grid` → :func:`grid_sample`; output has the input's shape.

    The net is :func:`localization_net`: at initialisation ``θ = [I | 0]`` for every image
    and the layer passes images through (up to interpolation rounding).

    Twin: divelab.models.stn.SpatialTransformer (F.affine_grid, F.grid_sample), same parameters
    """

    def __init__(self, in_channels: int = 1, height: int = 28, width: int = 28, hidden: int = 32,
                 align_corners: bool = False):
        super().__init__()
        self.align_corners = align_corners
        self.localization = localization_net(in_channels, height, width, hidden)

    def theta(self, x: Tensor) -> Tensor:
        """The affine maps (N, 2, 3) the localisation net predicts for the images ``x``."""
        return self.localization(x).view(-1, 2, 3)

    def forward(self, x: Tensor) -> Tensor:
        grid = affine_grid(self.theta(x), x.shape, self.align_corners)
        return grid_sample(x, grid, self.align_corners)

    def extra_repr(self) -> str:
        return f"align_corners={self.align_corners}"
