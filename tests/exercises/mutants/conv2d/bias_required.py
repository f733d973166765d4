"""Mutant: always adds the bias, so bias=None raises a TypeError."""

import torch
from torch import Tensor

HINT = "conv2d-bias"


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0) -> Tensor:
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    kh, kw = weight.shape[2:]
    windows = torch.nn.functional.pad(x, (pw, pw, ph, ph)).unfold(2, kh, sh).unfold(3, kw, sw)
    return torch.einsum("nchwab,ocab->nohw", windows, weight) + bias.view(1, -1, 1, 1)
