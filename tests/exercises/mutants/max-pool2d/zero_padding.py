"""Mutant: pads with zeros instead of −∞, so padding wins in windows of negative numbers."""

import torch
from torch import Tensor

HINT = "max-pool2d-pad"


def max_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0) -> Tensor:
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    sh, sw = (kh, kw) if stride is None else (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    padded = torch.nn.functional.pad(x, (pw, pw, ph, ph))
    windows = padded.unfold(-2, kh, sh).unfold(-2, kw, sw).flatten(-2)
    return windows.max(dim=-1).values
