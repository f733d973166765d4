"""Mutant: normalises over the rows (dim 0) instead of over the classes (the last dim)."""

import torch
from torch import Tensor

HINT = "reweight-normalise"


def reweight_predictions(probabilities: Tensor, w: Tensor) -> Tensor:
    scaled = probabilities * w
    total = scaled.sum(0, keepdim=True)
    return torch.where(total > 0, scaled / total, probabilities)
