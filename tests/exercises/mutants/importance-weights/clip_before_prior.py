"""Mutant: clips the odds exp(z) at max_weight, then multiplies by n_train / n_test (clips the wrong thing)."""

import torch
from torch import Tensor

HINT = "importance-weights-clip"


def importance_weights(test_logit: Tensor, n_train: int, n_test: int, max_weight: float | None = None) -> Tensor:
    odds = torch.exp(test_logit)
    if max_weight is not None:
        odds = odds.clamp(max=max_weight)
    return n_train / n_test * odds
