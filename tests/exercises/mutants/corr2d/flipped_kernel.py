"""Mutant: flips the kernel (the convolution of mathematics, not deep learning's cross-correlation)."""

import torch
from torch import Tensor

HINT = "corr2d-flipped"


def corr2d(X: Tensor, K: Tensor) -> Tensor:
    kh, kw = K.shape
    flipped = K.flip(0, 1)
    rows = [torch.stack([(X[i:i + kh, j:j + kw] * flipped).sum() for j in range(X.shape[1] - kw + 1)])
            for i in range(X.shape[0] - kh + 1)]
    return torch.stack(rows)
