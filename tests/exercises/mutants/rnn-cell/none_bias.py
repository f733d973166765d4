"""Mutant: adds the biases unconditionally, so bias=None (a cell without bias) raises."""

import torch
from torch import Tensor

HINT = "rnn-cell-none-bias"


def rnn_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
             bias_hh: Tensor | None = None, nonlinearity: str = "tanh") -> Tensor:
    a = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)
