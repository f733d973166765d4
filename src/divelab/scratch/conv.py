"""2-D convolution and pooling written by hand: windows of the input, then a matmul or a reduction.

Every function here cuts the (padded) input into its sliding windows with
``Tensor.unfold`` — a strided *view*, no copy — and then either multiplies the windows by
the kernel (cross-correlation, the "convolution" of deep learning) or reduces each window
(max / mean pooling). Multiplying all windows at once by the flattened kernel is the
classic *im2col* trick: one big matrix product instead of a loop over pixels. Autograd
differentiates all of it (``unfold``'s backward adds each window's gradient back into the
pixels it covers).

Output size along one axis, for input size ``n``, kernel ``k``, padding ``p`` (each side)
and stride ``s``::

    n' = ⌊(n + 2p − k) / s⌋ + 1

Not covered (the torch twins have them): dilation, groups, ``padding="same"``,
``ceil_mode``, ``return_indices``, ``divisor_override``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.scratch.init import fan_in_and_fan_out, kaiming_uniform_

Size2 = int | tuple[int, int]


def _pair(value: Size2, name: str, minimum: int) -> tuple[int, int]:
    """``3`` → ``(3, 3)``; a pair is checked and returned as a tuple; both must be ints ≥ ``minimum``."""
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in pair):
        raise ValueError(f"{name} must be an int ≥ {minimum} or a pair of them, got {value!r}")
    return pair[0], pair[1]


def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """``n' = ⌊(n + 2p − k) / s⌋ + 1``: how many windows of size ``kernel`` fit along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


def _windows(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """All ``kh × kw`` windows of the last two axes: ``(..., H, W)`` → ``(..., H', W', kh, kw)`` (a view)."""
    return x.unfold(-2, kernel[0], stride[0]).unfold(-2, kernel[1], stride[1])


def _check_fits(shape: tuple[int, ...], kernel: tuple[int, int], padding: tuple[int, int], what: str) -> None:
    """A ValueError unless the kernel fits into the padded input along both axes."""
    padded = (shape[-2] + 2 * padding[0], shape[-1] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(f"{what} {kernel[0]}×{kernel[1]} is larger than the padded input "
                         f"{padded[0]}×{padded[1]} (input {shape[-2]}×{shape[-1]}, padding {padding})")


def corr2d(X: Tensor, K: Tensor) -> Tensor:
    """2-D cross-correlation of one array with one kernel, no padding, stride 1 (the course's ``corr2d``).

    ``Y[i, j] = Σ_a Σ_b X[i + a, j + b] · K[a, b]`` for ``X`` of shape ``(H, W)`` and ``K``
    of shape ``(kh, kw)``; ``Y`` has shape ``(H − kh + 1, W − kw + 1)``.

    Twin: torch.nn.functional.conv2d(X[None, None], K[None, None])[0, 0]
    """
    if X.dim() != 2 or K.dim() != 2:
        raise ValueError(f"corr2d takes a 2-D array and a 2-D kernel, got shapes {tuple(X.shape)} and {tuple(K.shape)}")
    kernel = (K.shape[0], K.shape[1])
    _check_fits(tuple(X.shape), kernel, (0, 0), "kernel")
    windows = _windows(X, kernel, (1, 1))                            # (H', W', kh, kw)
    return (windows * K).sum(dim=(-2, -1))


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Size2 = 1, padding: Size2 = 0) -> Tensor:
    """Multi-channel 2-D cross-correlation (a convolution layer's forward pass).

    For ``x`` of shape ``(N, C_in, H, W)``, ``weight`` ``(C_out, C_in, kh, kw)`` and
    ``bias`` ``(C_out,)``, with ``x̃`` the input padded by ``p_h`` rows and ``p_w`` columns
    of zeros on each side::

        y[n, o, i, j] = b[o] + Σ_c Σ_a Σ_b x̃[n, c, s_h·i + a, s_w·j + b] · w[o, c, a, b]

    The output has shape ``(N, C_out, H', W')`` with ``H' = ⌊(H + 2p_h − kh)/s_h⌋ + 1``
    and ``W' = ⌊(W + 2p_w − kw)/s_w⌋ + 1``. ``stride`` and ``padding`` are an int or an
    ``(h, w)`` pair. Computed as im2col: the windows become the columns of a
    ``(C_in·kh·kw, N·H'·W')`` matrix that the flattened kernel ``(C_out, C_in·kh·kw)``
    multiplies — one matrix product for the whole batch.

    Twin: torch.nn.functional.conv2d
    """
    stride, padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
    if x.dim() != 4 or weight.dim() != 4:
        raise ValueError(f"conv2d takes x (N, C_in, H, W) and weight (C_out, C_in, kh, kw), "
                         f"got shapes {tuple(x.shape)} and {tuple(weight.shape)}")
    n, c_in = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    if weight.shape[1] != c_in:
        raise ValueError(f"x has {c_in} channels but weight expects {weight.shape[1]} "
                         f"(weight shape {tuple(weight.shape)})")
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ValueError(f"bias must have shape ({c_out},) for {c_out} output channels, got {tuple(bias.shape)}")
    _check_fits(tuple(x.shape), (kh, kw), padding, "kernel")
    padded = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    windows = _windows(padded, (kh, kw), stride)                     # (N, C_in, H', W', kh, kw)
    h_out, w_out = windows.shape[2:4]
    # im2col: one column per output pixel of every image, one row per (channel, kernel offset)
    cols = windows.permute(1, 4, 5, 0, 2, 3).reshape(c_in * kh * kw, n * h_out * w_out)  # (C_in·kh·kw, N·H'·W')
    out = weight.reshape(c_out, c_in * kh * kw) @ cols               # (C_out, N·H'·W'): ONE matrix product
    out = out.reshape(c_out, n, h_out, w_out).transpose(0, 1).contiguous()  # (N, C_out, H', W')
    return out if bias is None else out + bias.reshape(1, c_out, 1, 1)


Pairs = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]


def _pool_arguments(kernel_size: Size2, stride: Size2 | None, padding: Size2) -> Pairs:
    """Kernel, stride (default: the kernel) and padding as pairs, checked by torch's rules."""
    kernel = _pair(kernel_size, "kernel_size", 1)
    step = kernel if stride is None else _pair(stride, "stride", 1)
    pad = _pair(padding, "padding", 0)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        # torch's rule: then no window lies wholly in the padding (where max pooling would see only −∞)
        raise ValueError(f"padding {pad} must be at most half the kernel size {kernel} (kernel // 2)")
    return kernel, step, pad


def _pool_setup(x: Tensor, kernel_size: Size2, stride: Size2 | None, padding: Size2, what: str) -> Pairs:
    """Check a pooling call the way torch does; return kernel, stride, padding as pairs."""
    if x.dim() not in (3, 4):
        raise ValueError(f"{what} takes x of shape (N, C, H, W) or (C, H, W), got {tuple(x.shape)}")
    kernel, step, pad = _pool_arguments(kernel_size, stride, padding)
    _check_fits(tuple(x.shape), kernel, pad, "pooling window")
    return kernel, step, pad


def max_pool2d(x: Tensor, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0) -> Tensor:
    """Maximum of each ``kh × kw`` window: ``y[..., i, j] = max_{a,b} x̃[..., s_h·i + a, s_w·j + b]``.

    ``x̃`` is ``x`` padded with −∞ (so padding never wins); ``stride`` defaults to the kernel
    size (windows side by side); padding may be at most half the kernel. Each window's
    gradient goes to its *first* largest element in row-major order, as in torch (ties
    are not shared). Shapes ``(N, C, H, W)`` or ``(C, H, W)``; channels are pooled separately.

    Twin: torch.nn.functional.max_pool2d
    """
    kernel, stride, padding = _pool_setup(x, kernel_size, stride, padding, "max_pool2d")
    padded = F.pad(x, (padding[1], padding[1], padding[0], padding[0]), value=-math.inf)
    windows = _windows(padded, kernel, stride).flatten(-2)          # (..., H', W', kh·kw)
    first_max = windows.argmax(dim=-1, keepdim=True)                 # the first maximum of each window
    return windows.gather(-1, first_max).squeeze(-1)


def avg_pool2d(x: Tensor, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0,
               count_include_pad: bool = True) -> Tensor:
    """Mean of each ``kh × kw`` window of ``x`` padded with zeros.

    ``y[..., i, j] = (1/d) Σ_{a,b} x̃[..., s_h·i + a, s_w·j + b]`` with ``d = kh·kw`` by
    default (``count_include_pad=True``, torch's default: the padding zeros count), or
    ``d`` = the number of real (non-padding) pixels in the window. ``stride`` defaults to
    the kernel size; padding may be at most half the kernel.

    Twin: torch.nn.functional.avg_pool2d
    """
    kernel, stride, padding = _pool_setup(x, kernel_size, stride, padding, "avg_pool2d")
    pad = (padding[1], padding[1], padding[0], padding[0])
    sums = _windows(F.pad(x, pad), kernel, stride).sum(dim=(-2, -1))
    if count_include_pad or padding == (0, 0):
        return sums / (kernel[0] * kernel[1])
    # how many real pixels each window covers: the same window sum over a padded field of ones
    ones = F.pad(x.new_ones(x.shape[-2:]), pad)
    counts = _windows(ones, kernel, stride).sum(dim=(-2, -1))       # (H', W')
    return sums / counts


class Conv2dScratch(nn.Module):
    """A convolution layer on :func:`conv2d`, with ``nn.Conv2d``'s parameters and default init.

    ``weight`` ``(C_out, C_in, kh, kw)`` ~ U(−1/√fan_in, 1/√fan_in) and ``bias`` ``(C_out,)``
    ~ U(−1/√fan_in, 1/√fan_in), ``fan_in = C_in·kh·kw``, drawn from torch's global RNG in
    the same order and with the same bound arithmetic (Kaiming uniform with negative
    slope √5) as ``nn.Conv2d``: after the same ``torch.manual_seed`` both hold the same
    numbers, bit for bit.

    Twin: torch.nn.Conv2d (padding_mode="zeros", dilation=1, groups=1)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size2, stride: Size2 = 1,
                 padding: Size2 = 0, bias: bool = True) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"need ≥ 1 input and output channels, got {in_channels} and {out_channels}")
        kh, kw = _pair(kernel_size, "kernel_size", 1)
        self.stride, self.padding = _pair(stride, "stride", 1), _pair(padding, "padding", 0)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kh, kw))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Draw ``weight`` then ``bias`` as ``nn.Conv2d.reset_parameters`` does."""
        kaiming_uniform_(self.weight, nonlinearity="leaky_relu", negative_slope=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            self.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        c_out, c_in, kh, kw = self.weight.shape
        return (f"{c_in}, {c_out}, kernel_size=({kh}, {kw}), stride={self.stride}, padding={self.padding}, "
                f"bias={self.bias is not None}")


class MaxPool2dScratch(nn.Module):
    """Max pooling on :func:`max_pool2d`. Twin: torch.nn.MaxPool2d"""

    def __init__(self, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_arguments(kernel_size, stride, padding)

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2dScratch(nn.Module):
    """Average pooling on :func:`avg_pool2d`. Twin: torch.nn.AvgPool2d"""

    def __init__(self, kernel_size: Size2, stride: Size2 | None = None, padding: Size2 = 0,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_arguments(kernel_size, stride, padding)
        self.count_include_pad = count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"count_include_pad={self.count_include_pad}")
