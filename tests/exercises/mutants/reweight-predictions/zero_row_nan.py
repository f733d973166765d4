"""Mutant: divides by the normaliser even where it is 0, so rows with only zero-weight classes become NaN."""

import torch
from torch import Tensor

HINT = "reweight-zero-row"


def reweight_predictions(probabilities: Tensor, w: Tensor) -> Tensor:
    scaled = probabilities * w
    return scaled / scaled.sum(-1, keepdim=True)
