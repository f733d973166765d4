"""Chapter 1 solutions with the exercises' signatures, built on :mod:`divelab.scratch`."""

from __future__ import annotations

from torch import Tensor

from divelab.scratch.optim import SGD


def sgd_step(params: list[Tensor], lr: float, weight_decay: float = 0.0) -> None:
    """One step of a fresh :class:`divelab.scratch.optim.SGD` (no momentum, so it keeps no state)."""
    SGD(params, lr=lr, weight_decay=weight_decay).step()
