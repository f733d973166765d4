"""Mutant: stride=None defaults to 1 (overlapping windows) instead of the kernel size."""

import math

import torch
from torch import Tensor

HINT = "max-pool2d-stride-default"


def max_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0) -> Tensor:
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    sh, sw = (1, 1) if stride is None else (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    padded = torch.nn.functional.pad(x, (pw, pw, ph, ph), value=-math.inf)
    windows = padded.unfold(-2, kh, sh).unfold(-2, kw, sw).flatten(-2)
    return windows.max(dim=-1).values
