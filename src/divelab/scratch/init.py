"""Weight initialisation that keeps signals at a steady scale through deep networks.

A layer ``y = W x`` with ``n_in`` inputs and weights of variance ``σ²`` gives outputs of
variance ``n_in σ² Var(x)``; its backward pass multiplies gradient variances by
``n_out σ²``. Keeping both near 1 gives the two classic schemes:

- Xavier / Glorot (Glorot & Bengio, 2010): ``σ² = gain² · 2 / (fan_in + fan_out)``, the
  compromise between the forward (``1/fan_in``) and backward (``1/fan_out``) conditions;
  made for tanh / sigmoid / linear layers.
- He / Kaiming (He et al., 2015): ``σ² = gain² / fan`` with ``gain² = 2`` for ReLU, which
  zeroes half of its inputs and so halves the variance; ``fan`` is ``fan_in`` (steady
  forward pass) or ``fan_out`` (steady backward pass).

Each comes as a normal draw ``N(0, σ²)`` or a uniform one ``U(−a, a)`` with ``a = √3 σ``
(the uniform distribution on ``[−a, a]`` has variance ``a²/3``).

The functions fill a tensor in place and return it, like ``torch.nn.init``; they draw with
``tensor.uniform_`` / ``tensor.normal_`` exactly as ``nn.init`` does, so with the same
``generator`` seed the two give bit-for-bit the same weights.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

Nonlinearity = Literal["linear", "sigmoid", "tanh", "relu", "leaky_relu"]
FanMode = Literal["fan_in", "fan_out"]


def calculate_gain(nonlinearity: Nonlinearity, negative_slope: float = 0.01) -> float:
    """The factor by which a nonlinearity's expected output scale must be made up.

    ``linear`` and ``sigmoid``: 1; ``tanh``: 5/3; ``relu``: √2;
    ``leaky_relu``: √(2 / (1 + negative_slope²)).

    Twin: torch.nn.init.calculate_gain
    """
    if nonlinearity in ("linear", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + negative_slope**2))
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; use linear, sigmoid, tanh, relu or leaky_relu")


def fan_in_and_fan_out(weight: Tensor) -> tuple[int, int]:
    """How many inputs feed one output unit (fan_in) and how many outputs one input feeds (fan_out).

    A Linear weight has shape ``(out, in)``: ``fan_in = in``, ``fan_out = out``. A
    convolution weight ``(out, in, kh, kw)`` (or any ``(out, in, *kernel)``) connects each
    output to ``in · kh · kw`` inputs: ``fan_in = in · kh · kw``, ``fan_out = out · kh · kw``.

    Twin: torch.nn.init._calculate_fan_in_and_fan_out
    """
    if weight.dim() < 2:
        raise ValueError(f"fan_in and fan_out need a weight with ≥ 2 dimensions, got shape {tuple(weight.shape)}")
    receptive_field = math.prod(weight.shape[2:])  # 1 for a Linear weight
    return weight.shape[1] * receptive_field, weight.shape[0] * receptive_field


def _fan(weight: Tensor, mode: FanMode) -> int:
    fan_in, fan_out = fan_in_and_fan_out(weight)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def xavier_std(weight: Tensor, gain: float = 1.0) -> float:
    """``σ = gain · √(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(weight)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def kaiming_std(weight: Tensor, mode: FanMode = "fan_in", nonlinearity: Nonlinearity = "relu",
                negative_slope: float = 0.01) -> float:
    """``σ = gain / √fan``, with ``fan`` the fan_in or fan_out of ``weight``."""
    return calculate_gain(nonlinearity, negative_slope) / math.sqrt(_fan(weight, mode))


@torch.no_grad()
def _uniform(tensor: Tensor, std: float, generator: torch.Generator | None) -> Tensor:
    """Fill with ``U(−a, a)``, ``a = √3 σ``; computed as ``√3 · σ`` (as nn.init does) so the bounds match bit for bit."""
    bound = math.sqrt(3.0) * std
    return tensor.uniform_(-bound, bound, generator=generator)


@torch.no_grad()
def _normal(tensor: Tensor, std: float, generator: torch.Generator | None) -> Tensor:
    return tensor.normal_(0.0, std, generator=generator)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    """Xavier / Glorot uniform: ``W ~ U(−a, a)``, ``a = gain · √(6 / (fan_in + fan_out))``.

    Twin: torch.nn.init.xavier_uniform_
    """
    return _uniform(tensor, xavier_std(tensor, gain), generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    """Xavier / Glorot normal: ``W ~ N(0, σ²)``, ``σ = gain · √(2 / (fan_in + fan_out))``.

    Twin: torch.nn.init.xavier_normal_
    """
    return _normal(tensor, xavier_std(tensor, gain), generator)


def kaiming_uniform_(tensor: Tensor, mode: FanMode = "fan_in", nonlinearity: Nonlinearity = "relu",
                     negative_slope: float = 0.01, generator: torch.Generator | None = None) -> Tensor:
    """He / Kaiming uniform: ``W ~ U(−a, a)``, ``a = gain · √(3 / fan)``.

    Note the default ``nonlinearity="relu"`` (gain √2); ``nn.init.kaiming_uniform_``
    defaults to ``leaky_relu`` with slope ``a=0``, which is the same gain.

    Twin: torch.nn.init.kaiming_uniform_ (its ``a`` is our ``negative_slope``)
    """
    return _uniform(tensor, kaiming_std(tensor, mode, nonlinearity, negative_slope), generator)


def kaiming_normal_(tensor: Tensor, mode: FanMode = "fan_in", nonlinearity: Nonlinearity = "relu",
                    negative_slope: float = 0.01, generator: torch.Generator | None = None) -> Tensor:
    """He / Kaiming normal: ``W ~ N(0, σ²)``, ``σ = gain / √fan``.

    Twin: torch.nn.init.kaiming_normal_ (its ``a`` is our ``negative_slope``)
    """
    return _normal(tensor, kaiming_std(tensor, mode, nonlinearity, negative_slope), generator)
