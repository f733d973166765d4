"""Mutant: uses torch.mm, which takes 2-D x only (no leading dimensions)."""

import torch
from torch import Tensor

HINT = "linear-leading-dims"


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    out = torch.mm(x, weight.T)
    return out if bias is None else out + bias
