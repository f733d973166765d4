"""Chapter 3's solutions with the exercises' signatures: the hand-written layers of
:mod:`divelab.scratch.backprop` called as a function of their inputs and weights."""

from __future__ import annotations

from torch import Tensor

from divelab.scratch.backprop import Linear, ReLU


def linear_relu_backward(x: Tensor, weight: Tensor, bias: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """:class:`Linear` then :class:`ReLU` with the given weights: forward (which caches x and the
    mask z > 0), then backward from ``grad_out``; returns ``(∂L/∂x, ∂L/∂W, ∂L/∂b)``."""
    linear, relu = Linear(weight.shape[1], weight.shape[0], std=0.0, dtype=weight.dtype), ReLU()
    linear.weight, linear.bias = weight, bias
    relu.forward(linear.forward(x))
    grad_x = linear.backward(relu.backward(grad_out))
    return grad_x, linear.grad_weight, linear.grad_bias
