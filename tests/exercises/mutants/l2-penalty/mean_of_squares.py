"""Mutant: ½ of the mean of the squares instead of their sum."""

import torch
from torch import Tensor

HINT = "l2-penalty-sum"


def l2_penalty(params):
    tensors = [params] if isinstance(params, Tensor) else list(params)
    return sum((p ** 2).mean() for p in tensors) / 2
