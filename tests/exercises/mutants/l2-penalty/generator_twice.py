"""Mutant: iterates over params twice (an emptiness check, then the sum): a generator is empty the second time."""

import torch
from torch import Tensor

HINT = "l2-penalty-iterable"


def l2_penalty(params):
    if isinstance(params, Tensor):
        params = [params]
    if not list(params):
        raise ValueError("l2_penalty needs at least one tensor")
    total = 0.0
    for p in params:
        total = total + (p ** 2).sum()
    return total / 2
