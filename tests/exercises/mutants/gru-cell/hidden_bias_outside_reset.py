"""Mutant: n = tanh(W_in x + b_in + r ⊙ (W_hn h) + b_hn): b_hn added outside the reset gate
(torch resets it too: r ⊙ (W_hn h + b_hn))."""

import torch
from torch import Tensor

HINT = "gru-cell-reset-after"


def gru_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
             bias_hh: Tensor | None = None) -> Tensor:
    gx, gh = x @ weight_ih.T, h @ weight_hh.T
    x_r, x_z, x_n = gx.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    if bias_ih is not None:
        b_r, b_z, b_n = (bias_ih + bias_hh).chunk(3)
        b_hn = bias_hh.chunk(3)[2]
        x_r, x_z, x_n = x_r + b_r, x_z + b_z, x_n + b_n - b_hn
    else:
        b_hn = 0
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n + b_hn)
    return (1 - z) * n + z * h
