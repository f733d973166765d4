"""Minibatch stochastic gradient descent, with the interface of a torch optimizer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor


class SGD:
    """Minibatch stochastic gradient descent.

    ``θ ← θ − lr · ∇θ L`` for every parameter ``θ``, where ``L`` is the loss already
    averaged over the minibatch (so ``lr`` does not depend on the batch size).

    It offers what a generic training loop uses of a torch optimizer: ``step()``,
    ``zero_grad()``, ``state_dict()``/``load_state_dict()`` and ``param_groups``,
    whose ``"lr"`` is the one ``step`` reads, so it can be changed between steps.
    (It is not a ``torch.optim.Optimizer``, so torch's own LR schedulers refuse it.)

    Twin: torch.optim.SGD (no momentum, no weight decay)
    """

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        params = list(params)
        if not params:
            raise ValueError("SGD got an empty parameter list")
        self.param_groups: list[dict[str, Any]] = [{"params": params, "lr": _check_lr(lr)}]

    @property
    def lr(self) -> float:
        """The learning rate of the (single) parameter group."""
        return self.param_groups[0]["lr"]

    def step(self) -> None:
        """Move every parameter that has a gradient one step downhill: ``θ ← θ − lr · θ.grad``."""
        # The update itself must not become part of the autograd graph.
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p -= group["lr"] * p.grad

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients, since ``backward()`` adds to ``.grad`` rather than overwriting it.

        ``set_to_none=True`` drops them (``p.grad = None``); ``False`` fills them with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def state_dict(self) -> dict[str, float]:
        """The optimizer's settings as a JSON-friendly dict: ``{"lr": lr}`` (plain SGD keeps no other state)."""
        return {"lr": self.lr}

    def load_state_dict(self, state_dict: dict[str, float]) -> None:
        """Restore the settings saved by ``state_dict``."""
        if "lr" not in state_dict:
            raise ValueError(f"SGD state dict needs an 'lr' entry, got keys {sorted(state_dict)}")
        lr = _check_lr(state_dict["lr"])
        for group in self.param_groups:
            group["lr"] = lr


def _check_lr(lr: float) -> float:
    lr = float(lr)
    if not lr > 0:  # also rejects NaN
        raise ValueError(f"learning rate must be > 0, got {lr}")
    return lr
