"""Dropout: zero each unit with probability ``p`` during training, scale the survivors.

Inverted dropout (the form PyTorch and the d2l course use) divides the kept units by the
keep probability ``1 − p`` while training, so that ``E[dropout(x)] = x`` and nothing has
to change at test time, where dropout is the identity.

The work is split in two so each half can be checked on its own: :func:`dropout_mask`
draws the random mask, :func:`apply_dropout_mask` applies a given mask; :func:`dropout`
is the two together.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:  # also rejects NaN, for which every comparison is false
        raise ValueError(f"dropout probability has to be between 0 and 1, got {p}")


def dropout_mask(shape: torch.Size | tuple[int, ...], p: float, *, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
    """A random keep-mask: ``m_i ~ Bernoulli(1 − p)`` independently, as 0.0 / 1.0 of ``dtype``.

    Drawn as ``m_i = [u_i < 1 − p]`` with ``u_i ~ Uniform[0, 1)``, so ``p = 0`` keeps every
    unit and ``p = 1`` keeps none. Without ``generator`` the draw uses the global RNG of
    ``device``; with one, it is drawn on the generator's device and moved to ``device``.

    Twin: the mask inside torch.nn.functional.dropout (drawn there with ``bernoulli_``, a
    different random stream, so the two masks agree in distribution, not element by element)
    """
    _check_p(p)
    draw_on = generator.device if generator is not None else device
    u = torch.rand(shape, generator=generator, device=draw_on)
    return (u < 1.0 - p).to(dtype=dtype, device=device)


def apply_dropout_mask(x: Tensor, mask: Tensor, p: float) -> Tensor:
    """Keep the units where ``mask`` is 1 and scale them: ``y_i = x_i · (m_i / (1 − p))``.

    ``mask`` holds 0.0 / 1.0 and broadcasts against ``x``. The scaled mask ``m / (1 − p)``
    is formed first and then multiplied in, the order PyTorch uses, so the result matches
    ``F.dropout`` bit for bit given the same mask. For ``p = 1`` every unit is dropped and
    ``y = x · 0`` (no division by zero; the gradient is 0). The gradient is
    ``∂y_i/∂x_i = m_i / (1 − p)``.

    Twin: torch.nn.functional.dropout, given the mask it drew
    """
    _check_p(p)
    if p == 1.0:
        return x * torch.zeros_like(x)
    return x * (mask.to(x.dtype) / (1.0 - p))


def dropout(x: Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Inverted dropout: ``dropout(x)_i = m_i x_i / (1 − p)``, ``m_i ~ Bernoulli(1 − p)``.

    Each element is zeroed with probability ``p`` and the rest are divided by ``1 − p``, so
    ``E[dropout(x)_i] = x_i``. In evaluation (``training=False``) and for ``p = 0`` it is the
    identity and returns ``x`` itself; ``p = 1`` gives all zeros. ``p`` outside ``[0, 1]``
    raises ``ValueError``. ``generator`` makes the mask reproducible (see :func:`dropout_mask`).

    Twin: torch.nn.functional.dropout(x, p, training)
    """
    _check_p(p)
    if not training or p == 0.0:
        return x
    mask = dropout_mask(x.shape, p, generator=generator, dtype=x.dtype, device=x.device)
    return apply_dropout_mask(x, mask, p)
