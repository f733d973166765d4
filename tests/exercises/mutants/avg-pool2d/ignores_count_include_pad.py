"""Mutant: always divides by kh·kw, as if count_include_pad were always True."""

import torch
from torch import Tensor

HINT = "avg-pool2d-divisor"


def avg_pool2d(x: Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, count_include_pad: bool = True) -> Tensor:
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    sh, sw = (kh, kw) if stride is None else (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    padded = torch.nn.functional.pad(x, (pw, pw, ph, ph))
    return padded.unfold(-2, kh, sh).unfold(-2, kw, sw).mean(dim=(-2, -1))
