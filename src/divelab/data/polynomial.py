"""The polynomial-regression data of the d2l course, reproducible from a seed.

A cubic in one variable, seen through many polynomial features::

    y = 5 + 1.2 x − 3.4 x²/2! + 5.6 x³/3! + ε,   x ~ N(0, 1),   ε ~ N(0, noise²)

Feature ``i`` is ``x^i / i!``: dividing by ``i!`` keeps high powers from dwarfing the
low ones (|x|^19 is about 10⁹ at x = 3, but 3^19 / 19! ≈ 10⁻⁸), so one learning rate
suits every feature. A model with the first ``d + 1`` features is a polynomial of degree
``d``; the book's ``max_degree = 20`` is 20 features, powers 0 … 19.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

CUBIC = (5.0, 1.2, -3.4, 5.6)  # the true weights of the features 1, x, x²/2!, x³/3!


def polynomial_features(x: Tensor, num_features: int) -> Tensor:
    """``Φ(x)_i = x^i / i!`` for ``i = 0 … num_features − 1``: shape (n,) → (n, num_features).

    In float32 ``i!`` overflows beyond ``i = 34``; use float64 ``x`` for more features.
    """
    if num_features < 1:
        raise ValueError(f"num_features must be ≥ 1, got {num_features}")
    powers = torch.arange(num_features, dtype=x.dtype, device=x.device)
    factorials = torch.tensor([math.factorial(i) for i in range(num_features)], dtype=x.dtype, device=x.device)
    return x[:, None] ** powers / factorials  # (n, 1) ** (num_features,) -> (n, num_features)


def true_weights(num_features: int, coefficients: Sequence[float] = CUBIC) -> Tensor:
    """The weight vector of length ``num_features`` that generates the labels: ``coefficients``, then zeros."""
    if len(coefficients) > num_features:
        raise ValueError(f"{len(coefficients)} coefficients need at least as many features, got {num_features}")
    w = torch.zeros(num_features)
    w[:len(coefficients)] = torch.tensor(coefficients, dtype=w.dtype)
    return w


def polynomial_data(n: int, num_features: int = 20, coefficients: Sequence[float] = CUBIC, noise: float = 0.1,
                    seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` samples of ``y = Σ_i c_i x^i / i! + ε`` with ``x ~ N(0, 1)``, ``ε ~ N(0, noise²)``.

    Returns ``x`` of shape (n,), the features ``Φ(x)`` of shape (n, num_features) (see
    :func:`polynomial_features`) and ``y`` of shape (n,), all float32.
    """
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be ≥ 0, got {noise}")
    w = true_weights(num_features, coefficients)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=gen)
    features = polynomial_features(x, num_features)
    y = features @ w + noise * torch.randn(n, generator=gen)
    return x, features, y
