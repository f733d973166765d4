"""Mutant: puts the cosines in the even columns and the sines in the odd ones."""

import torch
from torch import Tensor

HINT = "pe-sin-cos"


def sinusoidal_encoding(max_len: int, num_hiddens: int) -> Tensor:
    t = torch.arange(max_len, dtype=torch.float64)[:, None]
    angles = t / 10000 ** (torch.arange(0, num_hiddens, 2, dtype=torch.float64) / num_hiddens)
    P = torch.zeros(max_len, num_hiddens, dtype=torch.float64)
    P[:, 0::2] = torch.cos(angles)
    P[:, 1::2] = torch.sin(angles[:, :num_hiddens // 2])
    return P
