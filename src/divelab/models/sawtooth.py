"""ReLU networks on the line, and the sawtooth that a deep one computes with few parameters.

The tent map ``T(x) = 2 min(x, 1 − x)`` takes [0, 1] onto itself with 2 linear pieces; its
m-fold composition ``Tᵐ = T ∘ … ∘ T`` is a sawtooth of ``2ᵐ`` pieces (``2^(m−1)`` teeth).

- **Deep** (:func:`deep_sawtooth`): on [0, 1], ``T(z) = 2 ReLU(z) − 4 ReLU(z − ½)``, so a
  network of ``m`` hidden layers of 2 units, each layer feeding ``2h₁ − 4h₂ = T(z)`` to the
  next, computes ``Tᵐ`` exactly with ``6m + 1`` parameters.
- **Shallow** (:func:`shallow_sawtooth`): one hidden layer of ``n`` ReLU units bends its
  output at most ``n`` times, at most ``n + 1`` pieces, so ``Tᵐ`` needs ``n ≥ 2ᵐ − 1`` units,
  ``3n + 1 ≥ 3·2ᵐ − 2`` parameters — exponentially many. The construction here uses ``2ᵐ``
  units: one per kink ``k / 2ᵐ`` and one for the first slope.

:func:`relu_network` builds the trained networks of :mod:`divelab.experiments.deep_vs_shallow`:
``depth`` hidden layers of ``width`` units, with :func:`width_for` the widest that fits a
parameter budget.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def tent_power(x: Tensor, m: int) -> Tensor:
    """``Tᵐ(x)`` for ``x`` in [0, 1], ``T(x) = 2 min(x, 1 − x)``."""
    for _ in range(m):
        x = 2 * torch.minimum(x, 1 - x)
    return x


def relu_network(depth: int, width: int, inputs: int = 1) -> nn.Sequential:
    """``Linear → ReLU`` ``depth`` times (``width`` units each), then ``Linear(width → 1)``; PyTorch's default init."""
    if depth < 1 or width < 1:
        raise ValueError(f"a ReLU network needs depth ≥ 1 and width ≥ 1, got depth {depth}, width {width}")
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(inputs if i == 0 else width, width), nn.ReLU()]
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def parameter_count(depth: int, width: int) -> int:
    """Weights and biases of ``relu_network(depth, width)``: ``2w + (depth − 1)(w² + w) + w + 1``."""
    return 2 * width + (depth - 1) * (width * width + width) + width + 1


def width_for(depth: int, budget: int) -> int:
    """The largest width whose ``depth``-layer network has at most ``budget`` parameters."""
    if parameter_count(depth, 1) > budget:
        raise ValueError(f"a network of {depth} hidden layers needs at least {parameter_count(depth, 1)} "
                         f"parameters, more than the budget of {budget}")
    width = 1
    while parameter_count(depth, width + 1) <= budget:
        width += 1
    return width


def _set(layer: nn.Linear, weight: list[list[float]], bias: list[float]) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))


def deep_sawtooth(m: int) -> nn.Sequential:
    """``m`` hidden layers of 2 units computing ``Tᵐ`` on [0, 1]: ``h = (ReLU(z), ReLU(z − ½))``, ``z ← 2h₁ − 4h₂``."""
    if m < 1:
        raise ValueError(f"m (the number of tent maps composed) must be ≥ 1, got {m}")
    net = relu_network(m, 2)
    linears = [layer for layer in net if isinstance(layer, nn.Linear)]
    _set(linears[0], [[1.0], [1.0]], [0.0, -0.5])
    for layer in linears[1:-1]:  # the previous layer's 2h₁ − 4h₂ is this layer's z
        _set(layer, [[2.0, -4.0], [2.0, -4.0]], [0.0, -0.5])
    _set(linears[-1], [[2.0, -4.0]], [0.0])
    return net


def shallow_sawtooth(m: int) -> nn.Sequential:
    """One hidden layer of ``2ᵐ`` units computing ``Tᵐ`` on [0, 1]: ``2ᵐ ReLU(x) + Σₖ (−1)ᵏ 2^(m+1) ReLU(x − k/2ᵐ)``.

    The slope starts at ``2ᵐ`` and flips sign at every kink ``k / 2ᵐ``, k = 1 … 2ᵐ − 1.
    """
    if m < 1:
        raise ValueError(f"m (the number of tent maps composed) must be ≥ 1, got {m}")
    units = 2 ** m
    net = relu_network(1, units)
    kinks = [k / units for k in range(units)]  # kink 0 is the unit for the first slope
    out = [float(units)] + [(-1) ** k * 2.0 * units for k in range(1, units)]
    _set(net[0], [[1.0]] * units, [-t for t in kinks])
    _set(net[2], [out], [0.0])
    return net
