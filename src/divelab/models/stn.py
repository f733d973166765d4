"""A spatial transformer on PyTorch's sampling functions, and a small CNN classifier for 28×28
gray images, optionally behind one.

    input (N, 1, 28, 28)
    [SpatialTransformer: localisation net → θ → affine_grid → grid_sample]   (N, 1, 28, 28)
    Conv(1→w, 5×5, pad 2)  → ReLU → MaxPool 2×2                               (N, w, 14, 14)
    Conv(w→2w, 5×5, pad 2) → ReLU → MaxPool 2×2                               (N, 2w, 7, 7)
    Flatten → Linear(2w·49 → classes)

The transformer starts as the identity, so with the same classifier weights the model
with and without it computes the same function at initialisation (up to interpolation
rounding); whatever difference training makes comes from what the transformer learns.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from divelab.scratch.spatial_transformer import SpatialTransformerScratch

IMAGE_SIDE = 28


class SpatialTransformer(SpatialTransformerScratch):
    """Localisation net → ``θ`` → ``F.affine_grid`` → ``F.grid_sample`` (bilinear, zero padding).

    The hand-written :class:`~divelab.scratch.spatial_transformer.SpatialTransformerScratch`
    (its localisation net, which starts at ``θ = [I | 0]``, and its parameters) with the grid
    and the sampling handed to PyTorch's functions. Jaderberg et al., 2015.

    Twin: divelab.scratch.spatial_transformer.SpatialTransformerScratch (the sampling written by
    hand), same parameters
    """

    def forward(self, x: Tensor) -> Tensor:
        grid = F.affine_grid(self.theta(x), list(x.shape), align_corners=self.align_corners)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=self.align_corners)

    def extra_repr(self) -> str:
        return f"align_corners={self.align_corners}"


def conv_classifier(width: int = 8, num_classes: int = 10) -> nn.Sequential:
    """Conv-ReLU-pool twice (28 → 14 → 7), then one Linear layer; see the module docstring."""
    return nn.Sequential(
        nn.Conv2d(1, width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),              # (N, w, 14, 14)
        nn.Conv2d(width, 2 * width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),      # (N, 2w, 7, 7)
        nn.Flatten(), nn.Linear(2 * width * (IMAGE_SIDE // 4) ** 2, num_classes),  # (N, 2w·49) -> (N, classes)
    )


class STNClassifier(nn.Module):
    """``classifier(stn(x))`` with ``transformer=True``, ``classifier(x)`` without.

    The transformer is :class:`SpatialTransformer` (``F.affine_grid``/``F.grid_sample``), or with
    ``use_scratch`` its hand-written twin
    :class:`~divelab.scratch.spatial_transformer.SpatialTransformerScratch`; both have the same
    parameters, so a state dict moves between the two. ``align_corners`` is passed to either.
    """

    def __init__(self, transformer: bool = True, width: int = 8, num_classes: int = 10,
                 use_scratch: bool = False, align_corners: bool = False):
        super().__init__()
        if width < 1 or num_classes < 1:
            raise ValueError(f"width and num_classes must be ≥ 1, got {width} and {num_classes}")
        layer = SpatialTransformerScratch if use_scratch else SpatialTransformer
        self.stn = layer(1, IMAGE_SIDE, IMAGE_SIDE, align_corners=align_corners) if transformer else None
        self.classifier = conv_classifier(width, num_classes)

    def transform(self, x: Tensor) -> Tensor:
        """What the classifier sees: the transformed images (``x`` itself without a transformer)."""
        return self.stn(x) if self.stn is not None else x

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.transform(x))
