"""Mutant: forgets the prior correction n_train / n_test (the weights are the classifier's raw odds)."""

import torch
from torch import Tensor

HINT = "importance-weights-prior"


def importance_weights(test_logit: Tensor, n_train: int, n_test: int, max_weight: float | None = None) -> Tensor:
    weights = torch.exp(test_logit)
    return weights if max_weight is None else weights.clamp(max=max_weight)
