"""Mutant: always adds the bias, so the default bias=None raises."""

import torch
from torch import Tensor

HINT = "linear-no-bias"


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    return x @ weight.T + bias
