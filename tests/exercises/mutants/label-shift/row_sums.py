"""Mutant: takes the source prior p(y) from the row sums of C (that is P(ŷ)) instead of the column sums."""

import torch
from torch import Tensor

HINT = "label-shift-column-sums"


def estimate_label_shift(confusion: Tensor, target_mean: Tensor) -> tuple[Tensor, Tensor]:
    w = torch.linalg.solve(confusion, target_mean)
    q = w * confusion.sum(1)
    return w, q / q.sum()
