"""Mutant: ignores the stride (always slides the window by one pixel)."""

import torch
from torch import Tensor

HINT = "conv2d-stride"


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0) -> Tensor:
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    c_out, c_in, kh, kw = weight.shape
    padded = torch.nn.functional.pad(x, (pw, pw, ph, ph))
    n, _, h, w = padded.shape
    h_out, w_out = h - kh + 1, w - kw + 1
    cols = padded.unfold(2, kh, 1).unfold(3, kw, 1)                    # (N, C_in, H', W', kh, kw)
    cols = cols.permute(0, 2, 3, 1, 4, 5).reshape(n, h_out * w_out, c_in * kh * kw)
    out = (cols @ weight.reshape(c_out, -1).T).transpose(1, 2).reshape(n, c_out, h_out, w_out)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
