"""Mutant: multiplies the posteriors by w but does not renormalise the rows."""

import torch
from torch import Tensor

HINT = "reweight-normalise"


def reweight_predictions(probabilities: Tensor, w: Tensor) -> Tensor:
    return probabilities * w
