"""Mutant: d2l's form of the candidate, n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn): the reset
gate acts on h before the product, where torch applies r ⊙ (W_hn h + b_hn)."""

import torch
from torch import Tensor

HINT = "gru-cell-reset-after"


def gru_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
             bias_hh: Tensor | None = None) -> Tensor:
    H = h.shape[1]
    gx = x @ weight_ih.T
    if bias_ih is not None:
        gx = gx + bias_ih
    h_rz = h @ weight_hh[:2 * H].T
    if bias_hh is not None:
        h_rz = h_rz + bias_hh[:2 * H]
    x_r, x_z, x_n = gx.chunk(3, dim=1)
    h_r, h_z = h_rz.chunk(2, dim=1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    h_n = (r * h) @ weight_hh[2 * H:].T
    if bias_hh is not None:
        h_n = h_n + bias_hh[2 * H:]
    n = torch.tanh(x_n + h_n)
    return (1 - z) * n + z * h
