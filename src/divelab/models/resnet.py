"""ResNet (He et al., 2016) as d2l builds it: residual blocks with batch norm, ResNet-18 by default.

A residual block computes ``y = ReLU(BN(conv₂(ReLU(BN(conv₁(x))))) + shortcut(x))`` with 3×3
convolutions; ``shortcut`` is the identity, or a 1×1 convolution (stride s) when the block
changes the channels or halves the side (``use_1x1conv``). As in d2l every convolution has a
bias and the 1×1 shortcut has no batch norm.

ResNet-18 (``arch=((2, 64), (2, 128), (2, 256), (2, 512))``), shapes at the course's 96 px:

    b1: Conv(64, 7×7, stride 2, pad 3) → BN → ReLU → MaxPool 3/2 pad 1    (N, 64, 24, 24)
    b2: 2 residual blocks                                                 (N, 64, 24, 24)
    b3: 2 residual blocks, the first with a 1×1 shortcut and stride 2     (N, 128, 12, 12)
    b4: likewise                                                          (N, 256, 6, 6)
    b5: likewise                                                          (N, 512, 3, 3)
    last: AdaptiveAvgPool → Flatten → Linear(512 → 10)

18 weighted layers: the stem convolution, 4 × 2 × 2 block convolutions and the Linear layer
(the three 1×1 shortcuts are not counted, as in the course).
Inputs: every window is padded, so any side ≥ 1 gives an output (28 px ends at 1×1).
Deviation for small inputs: ``stem="small"`` makes b1's convolution 3×3, stride 1, pad 1
(28 px → 14, 14, 7, 4, 2). ``width`` multiplies every channel count.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from divelab.models.common import (ImageClassifier, check_count, check_stem, check_width, init_xavier,
                                   scale_channels, stem_hint)

RESNET18 = ((2, 64), (2, 128), (2, 256), (2, 512))
STEMS = {"course": (7, 2, 3), "small": (3, 1, 1)}  # (kernel, stride, padding) of b1's convolution
POOL = (3, 2, 1)


class Residual(nn.Module):
    """``y = ReLU(BN(conv₂(ReLU(BN(conv₁(x))))) + shortcut(x))``; shortcut: 1×1 conv if ``use_1x1conv``, else x."""

    def __init__(self, in_channels: int, out_channels: int, use_1x1conv: bool = False, stride: int = 1):
        super().__init__()
        if not use_1x1conv and (in_channels != out_channels or stride != 1):
            raise ValueError("an identity shortcut needs in_channels == out_channels and stride 1; "
                             "use use_1x1conv=True")
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=stride)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = self.conv3(x) if self.conv3 is not None else x
        return F.relu(y + shortcut)


def resnet_stage(num_residuals: int, in_channels: int, out_channels: int, first: bool) -> nn.Sequential:
    """``num_residuals`` blocks; outside the first stage the first block halves the side with a 1×1 shortcut."""
    blocks = []
    for i in range(num_residuals):
        downsample = i == 0 and not first
        c_in = in_channels if i == 0 else out_channels
        blocks.append(Residual(c_in, out_channels, use_1x1conv=downsample or c_in != out_channels,
                               stride=2 if downsample else 1))
    return nn.Sequential(*blocks)


class ResNet(ImageClassifier):
    """d2l's ResNet built from ``arch`` (default ResNet-18); see the module docstring."""

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1, input_size: int = 96, width: float = 1.0,
                 arch: Sequence[tuple[int, int]] = RESNET18, stem: str = "course"):
        if not arch or not all(isinstance(b, (tuple, list)) and len(b) == 2 for b in arch):
            raise ValueError(f"arch must be a non-empty sequence of (num_residuals, channels) pairs, got {arch!r}")
        kernel, stride, padding = STEMS[check_stem(stem)]
        super().__init__(in_channels=in_channels, num_classes=num_classes, input_size=input_size,
                         reductions=((kernel, stride, padding), POOL, *[(3, 2, 1)] * (len(arch) - 1)),
                         fixed_input_size=False, hint=stem_hint(stem))
        channels = scale_channels(64, check_width(width))
        self.net = nn.Sequential(nn.Sequential(
            nn.Conv2d(in_channels, channels, kernel, stride, padding), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
        for i, (num_residuals, out) in enumerate(arch):
            out = scale_channels(check_count("channels", out), width)
            self.net.add_module(f"b{i + 2}", resnet_stage(check_count("num_residuals", num_residuals),
                                                          channels, out, first=i == 0))
            channels = out
        self.net.add_module("last", nn.Sequential(
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),  # (N, 512, 3, 3) -> (N, 512) at 96 px
            nn.Linear(channels, num_classes)))
        init_xavier(self)
