"""Network in Network (Lin, Chen & Yan, 2013) as d2l builds it: NiN blocks, global average pooling, no Linear layer.

A NiN block is ``Conv(k×k) → ReLU → Conv 1×1 → ReLU → Conv 1×1 → ReLU``: the two 1×1
convolutions act as a per-pixel MLP across channels.

    input (N, 1, 224, 224)                          course stem
    NiN block(96, 11×11, stride 4, pad 0)           (N, 96, 54, 54)
    MaxPool 3×3, stride 2                           (N, 96, 26, 26)
    NiN block(256, 5×5, pad 2) → MaxPool 3/2        (N, 256, 12, 12)
    NiN block(384, 3×3, pad 1) → MaxPool 3/2        (N, 384, 5, 5)
    Dropout(0.5)
    NiN block(10, 3×3, pad 1)                       (N, 10, 5, 5)
    AdaptiveAvgPool 1×1 → Flatten                   (N, 10)

As in d2l the last block ends in a ReLU, so the logits are ≥ 0 (averages of ReLU outputs).
Inputs: the course stem needs ≥ 67 px; deviation for small inputs: ``stem="small"`` makes the
first block's convolution 3×3, stride 1, pad 1 (≥ 15 px; 28 px → 28, 13, 6, 2). Any H, W at
least that large works (global pooling). ``width`` multiplies the channels 96, 256, 384; the
last block has ``num_classes`` channels whatever the width.
"""

from __future__ import annotations

from torch import nn

from divelab.models.common import ImageClassifier, check_stem, check_width, init_xavier, scale_channels, stem_hint

STEMS = {"course": (11, 4, 0), "small": (3, 1, 1)}  # (kernel, stride, padding) of the first block's convolution
POOL = (3, 2, 0)


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int) -> nn.Sequential:
    """``Conv(k×k) → ReLU → Conv 1×1 → ReLU → Conv 1×1 → ReLU``, all with ``out_channels`` outputs."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
    )


class NiN(ImageClassifier):
    """d2l's NiN; see the module docstring for the layers and the ``stem`` option."""

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1, input_size: int = 224, width: float = 1.0,
                 stem: str = "course", dropout: float = 0.5):
        kernel, stride, padding = STEMS[check_stem(stem)]
        super().__init__(in_channels=in_channels, num_classes=num_classes, input_size=input_size,
                         reductions=((kernel, stride, padding), POOL, POOL, POOL), fixed_input_size=False,
                         hint=stem_hint(stem))
        c1, c2, c3 = (scale_channels(c, check_width(width)) for c in (96, 256, 384))
        self.net = nn.Sequential(
            nin_block(in_channels, c1, kernel, stride, padding),
            nn.MaxPool2d(3, stride=2),
            nin_block(c1, c2, kernel_size=5, stride=1, padding=2),
            nn.MaxPool2d(3, stride=2),
            nin_block(c2, c3, kernel_size=3, stride=1, padding=1),
            nn.MaxPool2d(3, stride=2),
            nn.Dropout(dropout),
            nin_block(c3, num_classes, kernel_size=3, stride=1, padding=1),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),                                # (N, 10, 1, 1) -> (N, 10)
        )
        init_xavier(self)
