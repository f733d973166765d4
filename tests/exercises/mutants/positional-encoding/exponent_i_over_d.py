"""Mutant: uses the pair index i instead of 2i in the exponent, 10000^{i/d}: the frequencies fall too slowly."""

import torch
from torch import Tensor

HINT = "pe-frequency"


def sinusoidal_encoding(max_len: int, num_hiddens: int) -> Tensor:
    t = torch.arange(max_len, dtype=torch.float64)[:, None]
    i = torch.arange((num_hiddens + 1) // 2, dtype=torch.float64)
    angles = t / 10000 ** (i / num_hiddens)
    P = torch.zeros(max_len, num_hiddens, dtype=torch.float64)
    P[:, 0::2] = torch.sin(angles)
    P[:, 1::2] = torch.cos(angles[:, :num_hiddens // 2])
    return P
