"""Count the linear pieces of a ReLU network of one input, exactly on a fine grid.

A network of ``Linear`` and ``ReLU`` layers is piecewise linear: where the *activation
pattern* (which units are on, ``pre-activation > 0``) stays the same, it is one affine
function of its input. Walking a sorted grid, every change of pattern between neighbours
starts a new *region*; a region starts a new *piece* of the function only if its slope
differs too (a unit can switch without changing the output, e.g. when nothing downstream
reads it). The slope ``df/dx`` at each point is carried forward exactly with the pattern —
``d ← d Wᵀ`` through a Linear, ``d ← d ⊙ [z > 0]`` through a ReLU — in float64.

The count is exact for every piece wider than the grid spacing; a piece narrower than that
can be missed, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

SLOPE_TOLERANCE = 1e-9  # relative: slopes closer than this are one piece (float64 rounding)
CHUNK = 8192            # grid points per forward pass, to bound memory for wide networks


@dataclass(frozen=True)
class Pieces:
    """Along a grid: ``regions`` (activation patterns) and ``pieces`` (distinct affine maps) of a network."""

    regions: int
    pieces: int


def _layers(net: nn.Module) -> list[nn.Module]:
    layers = list(net.children()) if isinstance(net, nn.Sequential) else [net]
    for layer in layers:
        if not isinstance(layer, (nn.Linear, nn.ReLU)):
            raise ValueError(f"can only count the pieces of a Sequential of Linear and ReLU layers, "
                             f"found {type(layer).__name__}")
    return layers


@torch.no_grad()
def patterns_and_slopes(net: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """For each point of ``x`` (N,): its activation pattern (N, units) and the slope ``df/dx`` (N,), in float64."""
    h = x.to(torch.float64).reshape(-1, 1)
    d = torch.ones_like(h)  # dh/dx
    on = []
    for layer in _layers(net):
        if isinstance(layer, nn.Linear):
            w = layer.weight.to(torch.float64)
            b = layer.bias.to(torch.float64) if layer.bias is not None else 0.0
            h, d = h @ w.T + b, d @ w.T
        else:
            mask = h > 0
            on.append(mask)
            h, d = h * mask, d * mask
    if d.shape[1] != 1:
        raise ValueError(f"can only count the pieces of a network with one output, this one has {d.shape[1]}")
    return torch.cat(on, 1) if on else torch.zeros(len(h), 0, dtype=torch.bool), d[:, 0]


def count_pieces(net: nn.Module, x: Tensor) -> Pieces:
    """Regions and pieces of ``net`` along the sorted 1-D grid ``x`` (see the module docstring)."""
    if x.ndim != 1 or len(x) < 1:
        raise ValueError("the grid must be a non-empty 1-D tensor of input values")
    if len(x) > 1 and bool((x[1:] <= x[:-1]).any()):
        raise ValueError("the grid must be sorted in increasing order")
    regions = pieces = 1
    previous: tuple[Tensor, Tensor] | None = None
    for start in range(0, len(x), CHUNK):
        pattern, slope = patterns_and_slopes(net, x[start:start + CHUNK].cpu())
        if previous is not None:  # the last point of the previous chunk is each chunk's first neighbour
            pattern, slope = torch.cat([previous[0], pattern]), torch.cat([previous[1], slope])
        switched = (pattern[1:] != pattern[:-1]).any(1)
        bent = (slope[1:] - slope[:-1]).abs() > SLOPE_TOLERANCE * torch.maximum(slope[1:].abs(), slope[:-1].abs()).clamp(min=1)
        regions += int(switched.sum())
        pieces += int((switched & bent).sum())
        previous = pattern[-1:], slope[-1:]
    return Pieces(regions, pieces)


def midpoint_grid(points: int) -> Tensor:
    """``(i + ½) / points`` for i = 0 … points − 1, a grid of (0, 1). With ``points = 2ᵏ`` it is exact in float64
    and holds no kink of the sawtooth ``Tᵐ`` (:mod:`divelab.models.sawtooth`) for m < k: those are at
    ``j / 2^(m+1)``, the grid's points at odd multiples of ``1 / 2^(k+1)``."""
    return (torch.arange(points, dtype=torch.float64) + 0.5) / points
