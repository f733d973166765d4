"""Mutant: computes the odds as σ(z) / (1 − σ(z)), which is inf or imprecise for large logits."""

import torch
from torch import Tensor

HINT = "importance-weights-precision"


def importance_weights(test_logit: Tensor, n_train: int, n_test: int, max_weight: float | None = None) -> Tensor:
    p_test = torch.sigmoid(test_logit)
    weights = n_train / n_test * p_test / (1 - p_test)
    return weights if max_weight is None else weights.clamp(max=max_weight)
