"""Two-dimensional loss landscapes for watching optimisers move, and the runs over them.

Each landscape is a function ``f(p)`` of a point ``p = (x, y)`` with a known minimum, a
start point, a threshold and a budget of steps: an optimiser "arrives" at the step from
which on ``f`` stays below the threshold until the budget ends (a path that only flies
through the basin does not count).

- ``ill-conditioned``: ``f = 0.1 x² + 2 y²`` (the d2l book's example). The curvatures differ
  20×, so a learning rate safe for ``y`` crawls along ``x``; momentum and per-coordinate
  step sizes (Adagrad, RMSProp, Adam) fix that.
- ``rosenbrock``: ``f = (1 − x)² + 100 (y − x²)²``, a curved narrow valley with its
  minimum 0 at (1, 1); the curvature across the valley is ~1000× that along it.
- ``saddle``: ``f = x² − y² + y⁴ / 2``, a saddle point at the origin and minima −½ at
  (0, ±1). Started almost on the ridge (y = 10⁻³), plain gradient descent stalls near the
  saddle because the gradient there is tiny; methods that normalise it escape at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class Landscape:
    """A 2-D test function with where to start, when to stop and what to plot."""

    name: str
    fn: Callable[[Tensor], Tensor]  # (..., 2) → (...)
    start: tuple[float, float]
    threshold: float
    steps: int  # budget of updates
    minimum: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def __call__(self, p: Tensor) -> Tensor:
        return self.fn(p)


def _ill_conditioned(p: Tensor) -> Tensor:
    return 0.1 * p[..., 0] ** 2 + 2 * p[..., 1] ** 2


def _rosenbrock(p: Tensor) -> Tensor:
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _saddle(p: Tensor) -> Tensor:
    x, y = p[..., 0], p[..., 1]
    return x**2 - y**2 + y**4 / 2


LANDSCAPES: dict[str, Landscape] = {
    "ill-conditioned": Landscape("ill-conditioned", _ill_conditioned, (-5.0, -2.0), 1e-3, 200, (0.0, 0.0),
                                 (-5.5, 1.5), (-2.5, 2.5)),
    "rosenbrock": Landscape("rosenbrock", _rosenbrock, (-1.2, 1.0), 1e-2, 2000, (1.0, 1.0), (-1.6, 1.6),
                            (-0.6, 1.6)),
    "saddle": Landscape("saddle", _saddle, (1.5, 1e-3), -0.5 + 1e-3, 200, (0.0, 1.0), (-1.7, 1.7), (-1.4, 1.4)),
}


@dataclass
class Trajectory:
    """The points an optimiser visited and the value of ``f`` at each (one row per step)."""

    points: Tensor  # (n, 2)
    values: Tensor  # (n,)
    threshold: float

    @property
    def steps_to_threshold(self) -> int | None:
        """The first step from which on ``f`` stays below the threshold; None if it ends above it
        (or diverged)."""
        below = self.values < self.threshold  # NaN compares False
        if not bool(below[-1]):
            return None
        above = (~below).nonzero()
        return int(above[-1]) + 1 if len(above) else 0


def run(landscape: Landscape, make_optimizer: Callable[[list[Tensor]], Any], steps: int | None = None) -> Trajectory:
    """Minimise ``landscape`` from its start with ``make_optimizer([p])`` for ``steps`` updates
    (default: the landscape's budget), in float64. A run that blows up (|f| > 10¹² or not
    finite) ends there."""
    steps = landscape.steps if steps is None else steps
    p = torch.tensor(landscape.start, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([p])
    points, values = [], []
    for step in range(steps + 1):
        optimizer.zero_grad()
        value = landscape(p)
        points.append(p.detach().clone())
        values.append(value.detach().clone())
        if step == steps or not abs(value.item()) <= 1e12:
            break
        value.backward()
        optimizer.step()
    return Trajectory(torch.stack(points), torch.stack(values), landscape.threshold)


def grid(landscape: Landscape, n: int = 200) -> tuple[Tensor, Tensor, Tensor]:
    """``(X, Y, Z)`` on an ``n × n`` grid over the landscape's plot window, for contour plots."""
    xs = torch.linspace(*landscape.xlim, n, dtype=torch.float64)
    ys = torch.linspace(*landscape.ylim, n, dtype=torch.float64)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    return X, Y, landscape(torch.stack([X, Y], dim=-1))
