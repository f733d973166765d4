"""Mutant: multiplies by the weights as stored, x @ W_ih and h @ W_hh, instead of their transposes."""

import torch
from torch import Tensor

HINT = "rnn-cell-transposed"


def rnn_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
             bias_hh: Tensor | None = None, nonlinearity: str = "tanh") -> Tensor:
    a = x @ weight_ih + h @ weight_hh
    if bias_ih is not None:
        a = a + bias_ih + bias_hh
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)
