"""VGG (Simonyan & Zisserman, 2014) as d2l builds it: VGG blocks from an architecture spec.

A VGG block is ``num_convs × (Conv 3×3, pad 1 → ReLU)`` then ``MaxPool 2×2, stride 2``: it keeps
the side through the convolutions and halves it at the end. VGG-11 is the spec
``((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))`` — 8 convolutions + 3 Linear layers:

    input (N, 1, 224, 224)
    5 VGG blocks                                   (N, 64, 112, 112) … (N, 512, 7, 7)
    Flatten                                        (N, 25088)
    Linear(4096) → ReLU → Dropout(0.5) → Linear(4096) → ReLU → Dropout(0.5) → Linear(10)

Inputs: each block halves the side, so ``k`` blocks need ≥ 2^k pixels: 32 for VGG-11 (28 px
Fashion-MNIST must be padded or resized to 32). No stem to adapt: the convolutions keep the
side. ``width`` multiplies every block's channels and the hidden width 4096 (``hidden`` sets
the latter directly). The course *trains* VGG-11 with a quarter of the channels,
``((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))``, i.e. ``width=0.25, hidden=4096``, at 224 px.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from divelab.models.common import ImageClassifier, check_count, check_width, init_xavier, scale_channels

VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    """``num_convs × (Conv 3×3 pad 1 → ReLU)`` → ``MaxPool 2×2 stride 2``: (N, C, H, W) → (N, out, H/2, W/2)"""
    layers: list[nn.Module] = []
    for i in range(num_convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, kernel_size=3, padding=1),
                   nn.ReLU()]
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def _check_arch(arch: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    if not arch or not all(isinstance(b, (tuple, list)) and len(b) == 2 for b in arch):
        raise ValueError(f"arch must be a non-empty sequence of (num_convs, channels) pairs, got {arch!r}")
    return tuple((check_count("num_convs", n), check_count("channels", c)) for n, c in arch)


class VGG(ImageClassifier):
    """d2l's VGG built from ``arch`` (default VGG-11); see the module docstring."""

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1, input_size: int = 224, width: float = 1.0,
                 arch: Sequence[tuple[int, int]] = VGG11, hidden: int | None = None, dropout: float = 0.5):
        arch = _check_arch(arch)
        super().__init__(in_channels=in_channels, num_classes=num_classes, input_size=input_size,
                         reductions=[(2, 2, 0)] * len(arch), fixed_input_size=True)
        check_width(width)
        hidden = scale_channels(4096, width) if hidden is None else check_count("hidden", hidden)
        blocks, channels = [], in_channels
        for num_convs, out in arch:
            blocks.append(vgg_block(num_convs, channels, scale_channels(out, width)))
            channels = scale_channels(out, width)
        self.net = nn.Sequential(
            *blocks,
            nn.Flatten(),                                # (N, 512, 7, 7) -> (N, 25088) for VGG-11 at 224 px
            nn.Linear(channels * self.final_size ** 2, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        init_xavier(self)
