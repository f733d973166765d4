"""Activation functions and their derivatives, written from comparisons and ``exp``.

``sigmoid`` and ``tanh`` are evaluated through ``exp(-|x|)``, which lies in ``(0, 1]``,
so no ``exp`` can overflow however large ``|x|`` is.
"""

from __future__ import annotations

import torch
from torch import Tensor


def relu(x: Tensor) -> Tensor:
    """Rectified linear unit: keep positive values, replace the rest by 0.

    ``relu(x) = max(x, 0)``.

    Twin: torch.relu
    """
    # Written as "x <= 0 -> 0" rather than "x > 0 -> x" so that NaN passes through
    # (as in torch.relu); the gradient at exactly 0 is 0, as autograd gives for torch.relu.
    return torch.where(x <= 0, torch.zeros_like(x), x)


def relu_grad(x: Tensor) -> Tensor:
    """Derivative of ``relu``, elementwise.

    ``relu'(x) = 1 if x > 0 else 0`` (0 at ``x = 0``, the convention of torch's autograd).

    Twin: autograd of torch.relu
    """
    return (x > 0).to(x.dtype)


def sigmoid(x: Tensor) -> Tensor:
    """Logistic function, squashing any real number into ``(0, 1)``.

    ``σ(x) = 1 / (1 + exp(-x))``, evaluated as ``1 / (1 + e)`` for ``x >= 0`` and
    ``e / (1 + e)`` for ``x < 0`` with ``e = exp(-|x|)``.

    Twin: torch.sigmoid
    """
    # -|x| written with where (not abs) so the gradient at x = 0 is right: abs'(0) = 0.
    e = torch.exp(torch.where(x >= 0, -x, x))
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(x: Tensor) -> Tensor:
    """Derivative of ``sigmoid``, elementwise.

    ``σ'(x) = σ(x) (1 - σ(x))``.

    Twin: autograd of torch.sigmoid
    """
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent, squashing any real number into ``(-1, 1)``.

    ``tanh(x) = (1 - exp(-2x)) / (1 + exp(-2x))``, evaluated for ``|x|`` with
    ``e = exp(-2|x|)`` and given the sign of ``x``.

    Twin: torch.tanh
    """
    z = torch.where(x >= 0, -2 * x, 2 * x)  # z = -2|x| <= 0, see sigmoid
    # expm1(z) = exp(z) - 1 without the cancellation that ruins 1 - exp(z) for tiny |x|;
    # then (1 - e) / (1 + e) = -expm1(z) / (2 + expm1(z)).
    em1 = torch.expm1(z)
    t = -em1 / (2 + em1)
    return torch.where(x >= 0, t, -t)


def tanh_grad(x: Tensor) -> Tensor:
    """Derivative of ``tanh``, elementwise.

    ``tanh'(x) = 1 - tanh(x)²``.

    Twin: autograd of torch.tanh
    """
    return 1 - tanh(x) ** 2
