"""Mutant: reads the weight as (C_in, C_out, kh, kw), i.e. weight[c, o] instead of weight[o, c]."""

import torch
from torch import Tensor

HINT = "conv2d-channels"


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0) -> Tensor:
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    kh, kw = weight.shape[2:]
    padded = torch.nn.functional.pad(x, (pw, pw, ph, ph))
    windows = padded.unfold(2, kh, sh).unfold(3, kw, sw)
    out = torch.einsum("nchwab,coab->nohw", windows, weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
