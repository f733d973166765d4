"""Mutant: loops over range(H − kh) instead of range(H − kh + 1): the last row and column are missing."""

import torch
from torch import Tensor

HINT = "corr2d-size"


def corr2d(X: Tensor, K: Tensor) -> Tensor:
    kh, kw = K.shape
    rows = [torch.stack([(X[i:i + kh, j:j + kw] * K).sum() for j in range(max(X.shape[1] - kw, 1))])
            for i in range(max(X.shape[0] - kh, 1))]
    return torch.stack(rows)
