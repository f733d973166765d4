"""Mutant: gives F.pad the (h, w) padding in the wrong order (F.pad pads the last axis first)."""

import torch
from torch import Tensor

HINT = "conv2d-padding"


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0) -> Tensor:
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    c_out, c_in, kh, kw = weight.shape
    padded = torch.nn.functional.pad(x, (ph, ph, pw, pw))
    windows = padded.unfold(2, kh, sh).unfold(3, kw, sw)
    out = torch.einsum("nchwab,ocab->nohw", windows, weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
