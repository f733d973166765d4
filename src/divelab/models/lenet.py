"""LeNet-5 (LeCun et al., 1998) as the course builds it, optionally with batch normalisation,
and a modern LeNet (ReLU, max-pooling, batch norm).

    input (N, 1, 28, 28)
    Conv(1→6, 5×5, pad 2) → sigmoid → AvgPool 2×2     (N, 6, 14, 14)
    Conv(6→16, 5×5)       → sigmoid → AvgPool 2×2     (N, 16, 5, 5)
    Flatten                                           (N, 400)
    Linear(400→120) → sigmoid → Linear(120→84) → sigmoid → Linear(84→10)

With ``batch_norm=True`` a normalisation layer sits between each convolution or hidden
Linear layer and its sigmoid, as in d2l's batch-norm chapter. ``norm_layer`` chooses which:
a factory ``norm_layer(num_features, dims=4)`` for the convolutions and ``dims=2`` for the
Linear layers; the default builds ``nn.BatchNorm2d`` / ``nn.BatchNorm1d``, and
``divelab.scratch.batchnorm.BatchNormScratch`` fits the same call.

Both take ``in_channels``, ``input_size`` (the Flatten size depends on it; ≥ 12 px) and a
``width`` multiplier on the channels 6, 16 and the hidden widths 120, 84.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from divelab.models.common import ImageClassifier, check_width, init_xavier, scale_channels

NormFactory = Callable[..., nn.Module]

# conv 5×5 pad 2, pool 2, conv 5×5, pool 2
LENET_REDUCTIONS = ((5, 1, 2), (2, 2, 0), (5, 1, 0), (2, 2, 0))

__all__ = ["LeNet", "LeNetModern", "init_xavier", "torch_batch_norm"]


def torch_batch_norm(num_features: int, dims: int) -> nn.Module:
    """``nn.BatchNorm2d`` after a convolution (``dims=4``), ``nn.BatchNorm1d`` after a Linear layer (``dims=2``)."""
    return nn.BatchNorm2d(num_features) if dims == 4 else nn.BatchNorm1d(num_features)


class LeNet(ImageClassifier):
    """The course's LeNet-5 (sigmoid, average pooling); see the module docstring for the layers."""

    def __init__(self, num_classes: int = 10, batch_norm: bool = False, norm_layer: NormFactory | None = None,
                 *, in_channels: int = 1, input_size: int = 28, width: float = 1.0):
        super().__init__(in_channels=in_channels, num_classes=num_classes, input_size=input_size,
                         reductions=LENET_REDUCTIONS, fixed_input_size=True)
        if norm_layer is not None and not batch_norm:
            raise ValueError("norm_layer is only used with batch_norm=True")
        norm = (norm_layer or torch_batch_norm) if batch_norm else None
        c1, c2, h1, h2 = (scale_channels(c, check_width(width)) for c in (6, 16, 120, 84))

        def block(layer: nn.Module, features: int, dims: int) -> list[nn.Module]:
            """``layer → [norm] → sigmoid``."""
            return [layer, *([norm(features, dims=dims)] if norm else []), nn.Sigmoid()]

        flat = c2 * self.final_size ** 2
        self.net = nn.Sequential(
            *block(nn.Conv2d(in_channels, c1, kernel_size=5, padding=2), c1, 4), nn.AvgPool2d(2),
            *block(nn.Conv2d(c1, c2, kernel_size=5), c2, 4), nn.AvgPool2d(2),
            nn.Flatten(),                                   # (N, 16, 5, 5) -> (N, 400) at 28 px
            *block(nn.Linear(flat, h1), h1, 2),
            *block(nn.Linear(h1, h2), h2, 2),
            nn.Linear(h2, num_classes),
        )
        init_xavier(self)


class LeNetModern(ImageClassifier):
    """LeNet-5 with the later habits: ``conv/linear → BatchNorm → ReLU`` and max-pooling.

    Same layer sizes as :class:`LeNet` (d2l's LeNet exercises: swap sigmoid for ReLU and
    average for max pooling; its batch-norm chapter: normalise before each nonlinearity).
    Not a single network of the course; the combination of its three suggested changes.
    """

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1, input_size: int = 28, width: float = 1.0):
        super().__init__(in_channels=in_channels, num_classes=num_classes, input_size=input_size,
                         reductions=LENET_REDUCTIONS, fixed_input_size=True)
        c1, c2, h1, h2 = (scale_channels(c, check_width(width)) for c in (6, 16, 120, 84))
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=5, padding=2), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size=5), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),                                   # (N, c2, 5, 5) -> (N, 25·c2) at 28 px
            nn.Linear(c2 * self.final_size ** 2, h1), nn.BatchNorm1d(h1), nn.ReLU(),
            nn.Linear(h1, h2), nn.BatchNorm1d(h2), nn.ReLU(),
            nn.Linear(h2, num_classes),
        )
        init_xavier(self)
