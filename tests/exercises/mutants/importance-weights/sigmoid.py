"""Mutant: uses the probability σ(z) = P(test|x) where the odds exp(z) = P(test|x) / P(train|x) belong."""

import torch
from torch import Tensor

HINT = "importance-weights-odds"


def importance_weights(test_logit: Tensor, n_train: int, n_test: int, max_weight: float | None = None) -> Tensor:
    weights = n_train / n_test * torch.sigmoid(test_logit)
    return weights if max_weight is None else weights.clamp(max=max_weight)
