"""The affine map ``y = x Wᵀ + b`` and the course's way of initialising its weights."""

from __future__ import annotations

import torch
from torch import Tensor


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Apply a fully connected (affine) layer to a batch of row vectors.

    ``linear(x, W, b) = x Wᵀ + b``, i.e. ``y_{n,o} = Σ_i x_{n,i} W_{o,i} + b_o``.

    ``weight`` has shape ``(out_features, in_features)`` as in PyTorch, so the same
    tensors fit an ``nn.Linear``. ``x`` may have any leading dimensions ``(..., in)``;
    the result has shape ``(..., out)``.

    Twin: torch.nn.functional.linear
    """
    out = x @ weight.T
    if bias is not None:
        out = out + bias
    return out


def init_linear(
    in_features: int,
    out_features: int,
    *,
    std: float = 0.01,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Create the parameters of a linear layer the way the d2l course does.

    ``W_{o,i} ~ N(0, std²)`` independently, shape ``(out_features, in_features)``;
    ``b = 0``, shape ``(out_features,)``.

    With ``generator=None`` the draw uses torch's global RNG, so ``torch.manual_seed``
    makes it reproducible. The numbers are drawn on the generator's device (the CPU
    for the global RNG) and then moved to ``device``, so one seed gives the same
    weights on every device.

    Twin: torch.nn.init.normal_(weight, 0, std) and torch.nn.init.zeros_(bias)
    """
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point type, got {dtype}")
    draw_on = generator.device if generator is not None else torch.device("cpu")
    weight = torch.randn(out_features, in_features, generator=generator, dtype=dtype, device=draw_on) * std
    weight = weight.to(device)
    bias = torch.zeros(out_features, dtype=dtype, device=weight.device)
    return weight, bias
