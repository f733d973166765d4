"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012) as d2l builds it for 1-channel Fashion-MNIST.

    input (N, 1, 224, 224)                         course stem
    Conv(96, 11×11, stride 4, pad 1) → ReLU        (N, 96, 54, 54)
    MaxPool 3×3, stride 2                          (N, 96, 26, 26)
    Conv(256, 5×5, pad 2) → ReLU → MaxPool 3/2     (N, 256, 12, 12)
    Conv(384, 3×3, pad 1) → ReLU
    Conv(384, 3×3, pad 1) → ReLU
    Conv(256, 3×3, pad 1) → ReLU → MaxPool 3/2     (N, 256, 5, 5)
    Flatten                                        (N, 6400)
    Linear(4096) → ReLU → Dropout(0.5) → Linear(4096) → ReLU → Dropout(0.5) → Linear(10)

Inputs: the course stem needs ≥ 65×65 pixels (three unpadded 3/2 max-pools after a stride-4
stem); the course upsamples Fashion-MNIST to 224. Deviation for small inputs: ``stem="small"``
replaces the first convolution by a 3×3, stride 1, pad 1 one (no 4× downsampling), so the rest
of the network is unchanged and any input ≥ 15 px works (28 px → 28, 13, 6, 2).
``width`` multiplies every channel count and the hidden width 4096 (``hidden`` sets the latter
directly). d2l's LazyConv/LazyLinear become explicit sizes computed from ``input_size``.
"""

from __future__ import annotations

from torch import nn

from divelab.models.common import (ImageClassifier, check_count, check_stem, check_width, init_xavier,
                                   scale_channels, stem_hint)

STEMS = {"course": (11, 4, 1), "small": (3, 1, 1)}  # (kernel, stride, padding) of the first convolution
POOL = (3, 2, 0)


class AlexNet(ImageClassifier):
    """d2l's AlexNet; see the module docstring for the layers and the ``stem`` option."""

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1, input_size: int = 224, width: float = 1.0,
                 stem: str = "course", hidden: int | None = None, dropout: float = 0.5):
        kernel, stride, padding = STEMS[check_stem(stem)]
        super().__init__(in_channels=in_channels, num_classes=num_classes, input_size=input_size,
                         reductions=((kernel, stride, padding), POOL, POOL, POOL), fixed_input_size=True,
                         hint=stem_hint(stem))
        c1, c2, c3 = (scale_channels(c, check_width(width)) for c in (96, 256, 384))
        hidden = scale_channels(4096, width) if hidden is None else check_count("hidden", hidden)
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=kernel, stride=stride, padding=padding), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(c3, c3, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(c3, c2, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Flatten(),                                # (N, 256, 5, 5) -> (N, 6400) at 224 px
            nn.Linear(c2 * self.final_size ** 2, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        init_xavier(self)
