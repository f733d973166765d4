"""Mutant: Σ w² without the ½, so its gradient is 2w instead of w."""

import torch
from torch import Tensor

HINT = "l2-penalty-half"


def l2_penalty(params):
    tensors = [params] if isinstance(params, Tensor) else list(params)
    return sum((p ** 2).sum() for p in tensors)
