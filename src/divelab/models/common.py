"""What the course's CNNs share: channel scaling, spatial-size arithmetic, input checks, initialisation.

Every CNN in :mod:`divelab.models` is an :class:`ImageClassifier`: it is built for images of
``in_channels`` channels and a given ``input_size``, knows the smallest input its pooling stack
allows (``min_input_size``) and checks every batch against both before computing, so a wrong
shape is a clear ``ValueError`` instead of an error deep inside a layer.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

# (kernel, stride, padding) of one layer that changes the spatial size
Reduction = tuple[int, int, int]


def scale_channels(channels: int, width: float) -> int:
    """``max(1, round(channels · width))``: a layer's channel count under the width multiplier."""
    return max(1, round(channels * width))


def check_width(width: float) -> float:
    """``width`` if it is a positive finite number, else ``ValueError``."""
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width < float("inf"):
        raise ValueError(f"width must be a positive number, got {width!r}")
    return float(width)


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output side of a convolution or pooling window: ``⌊(size + 2·padding − kernel) / stride⌋ + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def trace_sizes(size: int, reductions: Sequence[Reduction]) -> list[int]:
    """The spatial side after each of ``reductions`` in turn, starting from an input of side ``size``."""
    sizes = []
    for kernel, stride, padding in reductions:
        size = conv_output_size(size, kernel, stride, padding)
        sizes.append(size)
    return sizes


def smallest_input(reductions: Sequence[Reduction], limit: int = 4096) -> int:
    """The smallest input side for which every layer of ``reductions`` still has an output ≥ 1 pixel.

    Sizes only grow with the input, so the first side that works is the answer.
    """
    for size in range(1, limit + 1):
        if all(s >= 1 for s in trace_sizes(size, reductions)):
            return size
    raise ValueError(f"no input side up to {limit} fits the layers {list(reductions)}")


def init_xavier(module: nn.Module) -> None:
    """Xavier-uniform weights for every Conv2d and Linear layer (biases keep PyTorch's default), as d2l does."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)


def check_count(name: str, value: int) -> int:
    """``value`` if it is an integer ≥ 1, else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class ImageClassifier(nn.Module):
    """Base of the course's CNNs: ``self.net`` maps (N, in_channels, H, W) images to (N, num_classes) logits.

    ``reductions`` lists (kernel, stride, padding) of every layer on the main path that changes
    the spatial size; from it come ``feature_sizes`` (the side after each) and ``min_input_size``.
    With ``fixed_input_size`` (a Flatten → Linear head) the input must be exactly
    ``input_size`` × ``input_size``; otherwise (global average pooling) any H, W ≥
    ``min_input_size`` works. ``hint`` ends the too-small message (e.g. how to take smaller
    inputs). Subclasses call this ``__init__`` first, then set ``self.net``.
    """

    def __init__(self, *, in_channels: int, num_classes: int, input_size: int,
                 reductions: Sequence[Reduction], fixed_input_size: bool, hint: str = ""):
        super().__init__()
        self.in_channels = check_count("in_channels", in_channels)
        self.num_classes = check_count("num_classes", num_classes)
        self.input_size = check_count("input_size", input_size)
        self.reductions = tuple(reductions)
        self.fixed_input_size = fixed_input_size
        self.min_input_size = smallest_input(self.reductions)
        if input_size < self.min_input_size:
            raise ValueError(f"{type(self).__name__} needs inputs of at least {self.min_input_size}×"
                             f"{self.min_input_size} pixels (its downsampling layers leave nothing of smaller ones), "
                             f"got input_size={input_size}{hint}")
        self.feature_sizes = trace_sizes(input_size, self.reductions)

    @property
    def final_size(self) -> int:
        """Spatial side of the last feature map (before flattening or global pooling) at ``input_size``."""
        return self.feature_sizes[-1]

    def check_input(self, x: Tensor) -> None:
        """``ValueError`` unless ``x`` is a batch of images this network can take."""
        name = type(self).__name__
        if x.dim() != 4:
            raise ValueError(f"{name} expects a batch of images (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{name} was built for {self.in_channels}-channel images, got {x.shape[1]} channels")
        h, w = x.shape[-2:]
        if self.fixed_input_size and (h, w) != (self.input_size, self.input_size):
            raise ValueError(f"{name} was built for {self.input_size}×{self.input_size} inputs (its first Linear "
                             f"layer's size depends on it), got {h}×{w}; build it with input_size={h}")
        if min(h, w) < self.min_input_size:
            raise ValueError(f"{name} needs inputs of at least {self.min_input_size}×{self.min_input_size} "
                             f"pixels, got {h}×{w}")

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return self.net(x)


def check_stem(stem: str) -> str:
    """``stem`` if it is ``"course"`` or ``"small"``, else ``ValueError``."""
    if stem not in ("course", "small"):
        raise ValueError(f"stem must be 'course' or 'small', got {stem!r}")
    return stem


def stem_hint(stem: str) -> str:
    """The end of a too-small-input message for networks with a ``stem`` option."""
    return "; stem='small' takes smaller inputs" if stem == "course" else ""
