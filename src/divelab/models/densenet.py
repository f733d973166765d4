"""DenseNet (Huang et al., 2017) as d2l builds it: dense blocks joined by transition blocks.

- conv block: ``BN → ReLU → Conv 3×3 pad 1`` with ``growth_rate`` outputs (pre-activation order);
- dense block of n conv blocks: each one's output is concatenated to its input, so the block
  maps C channels to ``C + n · growth_rate``, same H × W;
- transition block: ``BN → ReLU → Conv 1×1 → AvgPool 2×2 stride 2`` halves the channels
  (``C // 2``) and the side.

d2l's network: 64 stem channels, growth 32, ``arch=(4, 4, 4, 4)`` conv blocks per dense block;
shapes at the course's 96 px:

    b1: Conv(64, 7×7, stride 2, pad 3) → BN → ReLU → MaxPool 3/2 pad 1      (N, 64, 24, 24)
    dense 1 → (N, 192, 24, 24); transition → (N, 96, 12, 12)
    dense 2 → (N, 224, 12, 12); transition → (N, 112, 6, 6)
    dense 3 → (N, 240, 6, 6);   transition → (N, 120, 3, 3)
    dense 4 → (N, 248, 3, 3)
    last: BN → ReLU → AdaptiveAvgPool → Flatten → Linear(248 → 10)

Inputs: the three unpadded 2×2 average pools need ≥ 8 px after the 4× stem, so ≥ 29 px with
the course stem (28 px Fashion-MNIST does not fit; 32 does). Deviation for small inputs:
``stem="small"`` makes b1's convolution 3×3, stride 1, pad 1 (≥ 15 px; 28 px → 14, 7, 3, 1).
``width`` multiplies the stem channels and the growth rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from divelab.models.common import (ImageClassifier, check_count, check_stem, check_width, init_xavier,
                                   scale_channels, stem_hint)

STEMS = {"course": (7, 2, 3), "small": (3, 1, 1)}  # (kernel, stride, padding) of b1's convolution


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """``BN → ReLU → Conv 3×3 pad 1``."""
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    """``num_convs`` conv blocks; each sees the concatenation of the block input and all earlier outputs.

    Output channels: ``in_channels + num_convs · growth_rate``.
    """

    def __init__(self, num_convs: int, in_channels: int, growth_rate: int):
        super().__init__()
        self.net = nn.Sequential(*[conv_block(in_channels + i * growth_rate, growth_rate) for i in range(num_convs)])
        self.out_channels = in_channels + num_convs * growth_rate

    def forward(self, x: Tensor) -> Tensor:
        for block in self.net:
            x = torch.cat((x, block(x)), dim=1)  # (N, C, H, W) -> (N, C + growth, H, W)
        return x


def transition_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """``BN → ReLU → Conv 1×1 → AvgPool 2×2 stride 2``: fewer channels, half the side."""
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, out_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet(ImageClassifier):
    """d2l's DenseNet; see the module docstring for the layers and the ``stem`` option."""

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1, input_size: int = 96, width: float = 1.0,
                 arch: Sequence[int] = (4, 4, 4, 4), growth_rate: int = 32, num_channels: int = 64,
                 stem: str = "course"):
        if not arch:
            raise ValueError("arch must list at least one dense block")
        arch = [check_count("num_convs", n) for n in arch]
        kernel, stride, padding = STEMS[check_stem(stem)]
        super().__init__(in_channels=in_channels, num_classes=num_classes, input_size=input_size,
                         reductions=((kernel, stride, padding), (3, 2, 1), *[(2, 2, 0)] * (len(arch) - 1)),
                         fixed_input_size=False, hint=stem_hint(stem))
        channels = scale_channels(check_count("num_channels", num_channels), check_width(width))
        growth = scale_channels(check_count("growth_rate", growth_rate), width)
        self.net = nn.Sequential(nn.Sequential(
            nn.Conv2d(in_channels, channels, kernel, stride, padding), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
        for i, num_convs in enumerate(arch):
            block = DenseBlock(num_convs, channels, growth)
            self.net.add_module(f"dense_blk{i + 1}", block)
            channels = block.out_channels
            if i != len(arch) - 1:
                self.net.add_module(f"tran_blk{i + 1}", transition_block(channels, channels // 2))
                channels //= 2
        self.net.add_module("last", nn.Sequential(
            nn.BatchNorm2d(channels), nn.ReLU(),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),  # (N, 248, 3, 3) -> (N, 248) at 96 px
            nn.Linear(channels, num_classes)))
        init_xavier(self)
