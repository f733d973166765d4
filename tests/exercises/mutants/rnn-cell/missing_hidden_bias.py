"""Mutant: adds b_ih but forgets the hidden bias b_hh."""

import torch
from torch import Tensor

HINT = "rnn-cell-bias"


def rnn_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
             bias_hh: Tensor | None = None, nonlinearity: str = "tanh") -> Tensor:
    a = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        a = a + bias_ih
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)
