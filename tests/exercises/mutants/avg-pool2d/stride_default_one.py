"""Mutant: stride=None defaults to 1 (overlapping windows) instead of the kernel size."""

import torch
from torch import Tensor

HINT = "avg-pool2d-stride-default"


def avg_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, count_include_pad: bool = True) -> Tensor:
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    sh, sw = (1, 1) if stride is None else (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    pad = (pw, pw, ph, ph)
    sums = torch.nn.functional.pad(x, pad).unfold(-2, kh, sh).unfold(-2, kw, sw).sum(dim=(-2, -1))
    if count_include_pad:
        return sums / (kh * kw)
    ones = torch.nn.functional.pad(torch.ones_like(x), pad)
    return sums / ones.unfold(-2, kh, sh).unfold(-2, kw, sw).sum(dim=(-2, -1))
