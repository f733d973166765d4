"""GoogLeNet (Szegedy et al., 2015) as d2l builds it: a stem, then Inception blocks, global average pooling.

An Inception block runs four paths on the same input and concatenates their channels:

    path 1: Conv 1×1 (c1)
    path 2: Conv 1×1 (c2[0]) → ReLU → Conv 3×3 pad 1 (c2[1])
    path 3: Conv 1×1 (c3[0]) → ReLU → Conv 5×5 pad 2 (c3[1])
    path 4: MaxPool 3×3 stride 1 pad 1 → Conv 1×1 (c4)
    each path ends in a ReLU; output channels = c1 + c2[1] + c3[1] + c4, same H × W.

The network (d2l's b1 … b5, then a Linear layer), shapes at the course's 96 px:

    b1: Conv(64, 7×7, stride 2, pad 3) → ReLU → MaxPool 3/2 pad 1          (N, 64, 24, 24)
    b2: Conv(64, 1×1) → ReLU → Conv(192, 3×3, pad 1) → ReLU → MaxPool      (N, 192, 12, 12)
    b3: 2 Inception blocks → MaxPool                                       (N, 480, 6, 6)
    b4: 5 Inception blocks → MaxPool                                       (N, 832, 3, 3)
    b5: 2 Inception blocks → AdaptiveAvgPool → Flatten                     (N, 1024)
    Linear(1024 → 10)

Inputs: every window is padded, so any side ≥ 1 gives an output; 96 px (course) ends at 3×3,
28 px at 1×1. Deviation for small inputs: ``stem="small"`` makes b1's convolution 3×3,
stride 1, pad 1 (one 2× downsampling fewer: 28 px → 14, 7, 4, 2). ``width`` multiplies every
path's channels (so a block's output is the sum of the scaled paths).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.models.common import ImageClassifier, check_stem, check_width, init_xavier, scale_channels, stem_hint

STEMS = {"course": (7, 2, 3), "small": (3, 1, 1)}  # (kernel, stride, padding) of b1's convolution
POOL = (3, 2, 1)

# (c1, (c2 reduce, c2), (c3 reduce, c3), c4) per Inception block of b3, b4, b5
INCEPTIONS = (
    ((64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)),
    ((192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64), (128, (128, 256), (24, 64), 64),
     (112, (144, 288), (32, 64), 64), (256, (160, 320), (32, 128), 128)),
    ((256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)),
)


class Inception(nn.Module):
    """Four parallel paths (1×1; 1×1→3×3; 1×1→5×5; 3×3 max-pool→1×1), concatenated on channels."""

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x: Tensor) -> Tensor:
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)  # (N, c1 + c2[1] + c3[1] + c4, H, W)


def _inception_stage(in_channels: int, specs: tuple, width: float) -> tuple[list[Inception], int]:
    """Inception blocks of one stage with every path scaled by ``width``; returns them and the output channels."""
    blocks = []
    for c1, (c2a, c2b), (c3a, c3b), c4 in specs:
        s = [scale_channels(c, width) for c in (c1, c2a, c2b, c3a, c3b, c4)]
        blocks.append(Inception(in_channels, s[0], (s[1], s[2]), (s[3], s[4]), s[5]))
        in_channels = blocks[-1].out_channels
    return blocks, in_channels


class GoogLeNet(ImageClassifier):
    """d2l's GoogLeNet; see the module docstring for the stages and the ``stem`` option."""

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1, input_size: int = 96, width: float = 1.0,
                 stem: str = "course"):
        kernel, stride, padding = STEMS[check_stem(stem)]
        super().__init__(in_channels=in_channels, num_classes=num_classes, input_size=input_size,
                         reductions=((kernel, stride, padding), POOL, POOL, POOL, POOL), fixed_input_size=False,
                         hint=stem_hint(stem))
        c64, c192 = (scale_channels(c, check_width(width)) for c in (64, 192))
        b1 = nn.Sequential(nn.Conv2d(in_channels, c64, kernel, stride, padding), nn.ReLU(),
                           nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        b2 = nn.Sequential(nn.Conv2d(c64, c64, kernel_size=1), nn.ReLU(),
                           nn.Conv2d(c64, c192, kernel_size=3, padding=1), nn.ReLU(),
                           nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        blocks3, channels = _inception_stage(c192, INCEPTIONS[0], width)
        blocks4, channels = _inception_stage(channels, INCEPTIONS[1], width)
        blocks5, channels = _inception_stage(channels, INCEPTIONS[2], width)
        b3 = nn.Sequential(*blocks3, nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        b4 = nn.Sequential(*blocks4, nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        b5 = nn.Sequential(*blocks5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())  # (N, 1024) at width 1
        self.net = nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(channels, num_classes))
        init_xavier(self)
