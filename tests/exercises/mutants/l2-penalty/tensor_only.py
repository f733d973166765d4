"""Mutant: treats params as a single tensor always; a list of tensors raises."""

import torch
from torch import Tensor

HINT = "l2-penalty-iterable"


def l2_penalty(params):
    return (params ** 2).sum() / 2
