"""Mutant: assumes an even num_hiddens, writing ⌈d/2⌉ cosines into ⌊d/2⌋ odd columns."""

import torch
from torch import Tensor

HINT = "pe-odd"


def sinusoidal_encoding(max_len: int, num_hiddens: int) -> Tensor:
    t = torch.arange(max_len, dtype=torch.float64)[:, None]
    angles = t / 10000 ** (torch.arange(0, num_hiddens, 2, dtype=torch.float64) / num_hiddens)
    P = torch.zeros(max_len, num_hiddens, dtype=torch.float64)
    P[:, 0::2] = torch.sin(angles)
    P[:, 1::2] = torch.cos(angles)
    return P
