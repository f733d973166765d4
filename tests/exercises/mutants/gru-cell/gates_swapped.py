"""Mutant: reads the update gate z from the first H rows and the reset gate r from the next H
(torch stacks them r, z, n)."""

import torch
from torch import Tensor

HINT = "gru-cell-gate-order"


def gru_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
             bias_hh: Tensor | None = None) -> Tensor:
    gx, gh = x @ weight_ih.T, h @ weight_hh.T
    if bias_ih is not None:
        gx, gh = gx + bias_ih, gh + bias_hh
    x_z, x_r, x_n = gx.chunk(3, dim=1)
    h_z, h_r, h_n = gh.chunk(3, dim=1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h
