"""Mutant: returns the ratio w = q / p as q, forgetting to multiply by p(y)."""

import torch
from torch import Tensor

HINT = "label-shift-times-p"


def estimate_label_shift(confusion: Tensor, target_mean: Tensor) -> tuple[Tensor, Tensor]:
    w = torch.linalg.solve(confusion, target_mean)
    return w, w / w.sum()
