"""LeNet-5 (LeCun et al., 1998) as the course builds it, optionally with batch normalisation.

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
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

NormFactory = Callable[..., nn.Module]


def torch_batch_norm(num_features: int, dims: int) -> nn.Module:
    """``nn.BatchNorm2d`` after a convolution (``dims=4``), ``nn.BatchNorm1d`` after a Linear layer (``dims=2``)."""
    return nn.BatchNorm2d(num_features) if dims == 4 else nn.BatchNorm1d(num_features)


def init_xavier(module: nn.Module) -> None:
    """Xavier-uniform weights for every Conv2d and Linear layer (biases keep PyTorch's default), as d2l does."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)


class LeNet(nn.Module):
    """The course's LeNet-5 for 28×28 gray images; see the module docstring for the layers."""

    def __init__(self, num_classes: int = 10, batch_norm: bool = False, norm_layer: NormFactory | None = None):
        super().__init__()
        if norm_layer is not None and not batch_norm:
            raise ValueError("norm_layer is only used with batch_norm=True")
        norm = (norm_layer or torch_batch_norm) if batch_norm else None

        def block(layer: nn.Module, features: int, dims: int) -> list[nn.Module]:
            """``layer → [norm] → sigmoid``."""
            return [layer, *([norm(features, dims=dims)] if norm else []), nn.Sigmoid()]

        self.net = nn.Sequential(
            *block(nn.Conv2d(1, 6, kernel_size=5, padding=2), 6, 4), nn.AvgPool2d(2),
            *block(nn.Conv2d(6, 16, kernel_size=5), 16, 4), nn.AvgPool2d(2),
            nn.Flatten(),                                   # (N, 16, 5, 5) -> (N, 400)
            *block(nn.Linear(16 * 5 * 5, 120), 120, 2),
            *block(nn.Linear(120, 84), 84, 2),
            nn.Linear(84, num_classes),
        )
        init_xavier(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
