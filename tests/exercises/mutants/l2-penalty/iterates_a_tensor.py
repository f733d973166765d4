"""Mutant: always iterates over params; a single tensor is iterated row by row (fine) but a 0-dim one raises."""

import torch
from torch import Tensor

HINT = "l2-penalty-scalar-tensor"


def l2_penalty(params):
    return sum((p ** 2).sum() for p in params) / 2
