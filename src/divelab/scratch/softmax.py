"""Softmax, its logarithm, log-sum-exp and the cross-entropy loss, all numerically stable.

The trick everywhere: ``softmax`` and ``log Σ exp`` do not change (up to adding the
shift back) when the same number is subtracted from every logit, so we subtract the
largest one. Then every ``exp`` sees a number ``<= 0`` and cannot overflow.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Reduction = Literal["mean", "sum", "none"]


def _max_shift(x: Tensor, dim: int) -> Tensor:
    """The per-slice maximum used as the stabilising shift (kept dimension, no gradient)."""
    m = x.amax(dim=dim, keepdim=True).detach()
    # A slice that is all -inf (or holds +inf) would give inf - inf = nan; shift it by 0.
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


def logsumexp(x: Tensor, dim: int = -1, keepdim: bool = False) -> Tensor:
    """Compute ``log Σ_j exp(x_j)`` along ``dim`` without overflow.

    ``logsumexp(x) = m + log Σ_j exp(x_j - m)``, ``m = max_j x_j``.

    Twin: torch.logsumexp
    """
    m = _max_shift(x, dim)
    out = torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True)) + m
    return out if keepdim else out.squeeze(dim)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Turn scores into probabilities along ``dim`` (each slice sums to 1).

    ``softmax(x)_i = exp(x_i - m) / Σ_j exp(x_j - m)``, ``m = max_j x_j``.

    Twin: torch.nn.functional.softmax
    """
    e = torch.exp(x - _max_shift(x, dim))
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Logarithm of the softmax along ``dim``, computed without taking ``log`` of a tiny number.

    ``log_softmax(x)_i = x_i - logsumexp(x) = (x_i - m) - log Σ_j exp(x_j - m)``,
    ``m = max_j x_j``, so logits like ``±1e4`` give finite values (``-2e4``) where
    ``log(softmax(x))`` would give ``-inf``.

    Twin: torch.nn.functional.log_softmax
    """
    # Subtract m first and add nothing back: x_i - logsumexp(x) would round the large
    # logsumexp to the precision of |m| and lose the small difference.
    shifted = x - _max_shift(x, dim)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def cross_entropy(logits: Tensor, target: Tensor, reduction: Reduction = "mean") -> Tensor:
    """The classification loss: minus the log-probability the model gives the true class.

    ``loss_i = logsumexp(z_i) - z_i[y_i] = -log_softmax(z_i)[y_i]`` for logits ``z``
    of shape ``(n, C)`` and class indices ``y`` (int64) of shape ``(n,)``; then the
    mean (default) or sum over ``i``, or the ``(n,)`` vector itself for ``"none"``.
    It is computed in the second form, which keeps its precision for large logits
    (see ``log_softmax``).

    Twin: torch.nn.functional.cross_entropy
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (n, C), got {tuple(logits.shape)}")
    if target.shape != logits.shape[:1]:
        raise ValueError(f"target must have shape ({logits.shape[0]},), got {tuple(target.shape)}")
    if target.dtype != torch.int64:
        raise ValueError(f"target must hold class indices (int64), got {target.dtype}")
    # For every row i at once, pick column target[i] of the log-probabilities.
    losses = -log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses
