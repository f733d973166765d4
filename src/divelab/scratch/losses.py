"""Regression loss written by hand."""

from __future__ import annotations

from torch import Tensor


def squared_loss(y_hat: Tensor, y: Tensor) -> Tensor:
    """Mean halved squared error, the course's regression loss.

    ``l = 1/n Σ_i ½ (ŷ_i − y_i)²``; the ½ makes the gradient ``ŷ − y``.
    Twin: ``0.5 * torch.nn.functional.mse_loss(y_hat, y)``.
    """
    if y_hat.shape != y.shape:
        raise ValueError(f"prediction shape {tuple(y_hat.shape)} differs from target shape {tuple(y.shape)}")
    return ((y_hat - y) ** 2 / 2).mean()
