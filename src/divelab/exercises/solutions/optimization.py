"""Chapter 4's solutions with the exercises' signatures: one update of a scratch optimiser of
:mod:`divelab.scratch.optim` on one parameter, its state kept in the caller's dict."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from divelab.scratch.optim import SGD, Adagrad, Adam, Optimizer, RMSProp


def _one_update(optimizer: Optimizer, param: Tensor, grad: Tensor, state: dict[str, Any],
                step: int | None = None) -> None:
    """``optimizer.step()`` on its single parameter ``param`` with gradient ``grad``; the buffers
    live in ``state`` (the scratch optimisers' step counter ``t`` is set from ``step``, then dropped)."""
    working = dict(state) if step is None else {**state, "step": step - 1}
    optimizer.state[0] = working
    saved, param.grad = param.grad, grad
    optimizer.step()
    param.grad = saved
    state.update({name: value for name, value in working.items() if name != "step"})


def sgd_momentum_update(param: Tensor, grad: Tensor, state: dict, lr: float, momentum: float = 0.0,
                        dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:
    """One step of :class:`divelab.scratch.optim.SGD`."""
    _one_update(SGD([param], lr, momentum, dampening, weight_decay, nesterov), param, grad, state)


def adagrad_update(param: Tensor, grad: Tensor, state: dict, step: int, lr: float = 0.01, lr_decay: float = 0.0,
                   weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
    """Step ``step`` of :class:`divelab.scratch.optim.Adagrad`."""
    _one_update(Adagrad([param], lr, lr_decay, weight_decay, initial_accumulator_value, eps), param, grad, state,
                step)


def rmsprop_update(param: Tensor, grad: Tensor, state: dict, lr: float = 0.01, alpha: float = 0.99,
                   eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
    """One step of :class:`divelab.scratch.optim.RMSProp`."""
    _one_update(RMSProp([param], lr, alpha, eps, weight_decay, momentum, centered), param, grad, state)


def adam_update(param: Tensor, grad: Tensor, state: dict, step: int, lr: float = 1e-3, beta1: float = 0.9,
                beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    """Step ``step`` of :class:`divelab.scratch.optim.Adam`."""
    _one_update(Adam([param], lr, (beta1, beta2), eps, weight_decay), param, grad, state, step)
