"""Mutant: the log of a (stable) softmax: a probability that underflows to 0 gives log 0 = −inf."""

import torch
from torch import Tensor

HINT = "log-softmax-log-of-softmax"


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return torch.log(e / e.sum(dim=dim, keepdim=True))
