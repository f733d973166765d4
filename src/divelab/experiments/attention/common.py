"""Helpers shared by the attention experiments: where float64 checks run, the attention-weight
heatmap, and the largest difference of two tensors (or lists of them)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def float64_device(device: torch.device) -> torch.device:
    """MPS has no float64: exact checks run on the CPU there."""
    return torch.device("cpu") if device.type == "mps" else device


def heatmap(fig: Any, ax: Any, weights: Tensor, title: str, xlabel: str = "keys", ylabel: str = "queries",
            extent: tuple[float, float, float, float] | None = None, colorbar: bool = True,
            vmax: float | None = None) -> None:
    """Attention weights (queries × keys) as an image with a colour bar (the course's ``show_heatmaps``)."""
    image = ax.imshow(weights.detach().cpu().numpy(), cmap="Reds", aspect="auto", extent=extent,
                      origin="upper" if extent is None else "lower", vmin=0, vmax=vmax)
    if extent is None:
        ax.set_yticks(range(weights.shape[0]))
    if colorbar:
        fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def max_diff(a: Tensor | list[Tensor], b: Tensor | list[Tensor]) -> float:
    """``max |a − b|`` over every element, of one pair of tensors or of two lists of them, pairwise."""
    pairs = zip(a, b) if isinstance(a, list) else [(a, b)]
    return max((x - y).abs().max().item() for x, y in pairs)
