"""SpeedNet: a small all-convolutional network shaped for fast training on a CPU (the ``speedrun``).

    input (N, 1, 28, 28)
    stage 1: Conv 3×3 stride 2 (1→w₁) → BN → ReLU, Conv 3×3 (w₁→w₁) → BN → ReLU    (N, w₁, 14, 14)
    stage 2: Conv 3×3 stride 2 (w₁→w₂) → BN → ReLU, Conv 3×3 (w₂→w₂) → BN → ReLU   (N, w₂, 7, 7)
    stage 3: Conv 3×3 stride 2 (w₂→w₃) → BN → ReLU, Conv 3×3 (w₃→w₃) → BN → ReLU   (N, w₃, 4, 4)
    head:    Flatten → Linear(16·w₃ → 10)   (or global max-pool → Linear(w₃ → 10))

Defaults ``widths=(24, 48, 96)``, ``extra=(1, 1, 1)``: about 4.6 M multiply–adds per image and
177 k parameters. Why this shape (measured on 2 CPU cores, see ``experiments/speedrun.py``):

- the training time of a convolution on a CPU is close to proportional to its multiply–adds,
  so each stage *begins* with a stride-2 convolution (four times cheaper than convolving at full
  resolution and then pooling, as the GPU speed-run networks do) and the first stage works at
  14×14, not 28×28;
- every convolution is followed by batch norm (fast, stable training at a high learning rate)
  and has no bias of its own (batch norm's shift replaces it);
- Fashion-MNIST's objects are centred, so the head keeps the 4×4 layout (``head="flatten"``)
  instead of pooling it away; it costs 15 k parameters and almost no time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import nn

from divelab.models.common import ImageClassifier, check_count

Head = Literal["flatten", "maxpool"]


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    """``Conv 3×3 (padding 1, no bias) → BatchNorm2d → ReLU``; ``stride=2`` halves the side (rounding up)."""
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class SpeedNet(ImageClassifier):
    """Stages of ``stride-2 conv + extra[i] convs`` with widths ``widths``, then a linear head.

    See the module docstring for the layer table. ``head="flatten"`` needs inputs of exactly
    ``input_size`` pixels (its Linear layer's size depends on it); ``head="maxpool"`` takes any
    size from ``min_input_size`` on.
    """

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1, input_size: int = 28,
                 widths: Sequence[int] = (24, 48, 96), extra: Sequence[int] = (1, 1, 1), head: Head = "flatten"):
        if len(widths) != len(extra) or not widths:
            raise ValueError(f"widths and extra need one entry per stage, got {list(widths)} and {list(extra)}")
        for w in widths:
            check_count("each width", w)
        if any(isinstance(e, bool) or not isinstance(e, int) or e < 0 for e in extra):
            raise ValueError(f"extra counts convolutions per stage and must be integers ≥ 0, got {list(extra)}")
        if head not in ("flatten", "maxpool"):
            raise ValueError(f"head must be 'flatten' or 'maxpool', got {head!r}")
        super().__init__(in_channels=in_channels, num_classes=num_classes, input_size=input_size,
                         reductions=[(3, 2, 1)] * len(widths), fixed_input_size=head == "flatten")
        layers: list[nn.Module] = []
        c_in = in_channels
        for width, repeats in zip(widths, extra):
            layers += conv_bn_relu(c_in, width, stride=2)
            for _ in range(repeats):
                layers += conv_bn_relu(width, width)
            c_in = width
        if head == "flatten":
            # (N, w₃, s, s) -> (N, w₃·s²)
            layers += [nn.Flatten(), nn.Linear(c_in * self.final_size ** 2, num_classes)]
        else:
            layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes)]
        self.net = nn.Sequential(*layers)
