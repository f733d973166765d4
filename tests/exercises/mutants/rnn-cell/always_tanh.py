"""Mutant: ignores nonlinearity and always applies tanh (no ReLU variant)."""

import torch
from torch import Tensor

HINT = "rnn-cell-relu"


def rnn_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
             bias_hh: Tensor | None = None, nonlinearity: str = "tanh") -> Tensor:
    a = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        a = a + bias_ih + bias_hh
    return torch.tanh(a)
