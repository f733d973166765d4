"""Learning-rate schedules in closed form, and a scheduler that applies one to an optimizer.

A schedule is a plain function ``lr_at(t) -> float``, where ``t`` is the number of
optimizer updates done so far (0 before the first one). Each factory below checks its
arguments and returns such a function; ``Scheduler`` writes ``lr_at(t)`` into an
optimizer's ``param_groups`` after every update.

torch's schedulers compute the same curves recursively (each lr from the previous one);
here every value comes straight from its formula, so ``lr_at`` can be asked about any
``t`` and resuming only needs ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral
from typing import Any

LrAt = Callable[[int], float]


def constant(base_lr: float) -> LrAt:
    """``lr(t) = base_lr`` for every ``t``.

    Twin: no scheduler at all (or torch.optim.lr_scheduler.ConstantLR with factor=1).
    """
    base_lr = _check_lr("base_lr", base_lr)

    def lr_at(t: int) -> float:
        _check_t(t)
        return base_lr

    return lr_at


def step_decay(base_lr: float, step_size: int, gamma: float = 0.1) -> LrAt:
    """``lr(t) = base_lr · γ^⌊t / step_size⌋``: multiply by ``γ`` every ``step_size`` updates.

    Twin: torch.optim.lr_scheduler.StepLR(step_size, gamma)
    """
    base_lr = _check_lr("base_lr", base_lr)
    step_size = _check_count("step_size", step_size, minimum=1)
    gamma = _check_gamma(gamma)

    def lr_at(t: int) -> float:
        return base_lr * gamma ** (_check_t(t) // step_size)

    return lr_at


def exponential_decay(base_lr: float, gamma: float) -> LrAt:
    """``lr(t) = base_lr · γ^t``: multiply by ``γ`` after every update.

    Twin: torch.optim.lr_scheduler.ExponentialLR(gamma)
    """
    base_lr = _check_lr("base_lr", base_lr)
    gamma = _check_gamma(gamma)

    def lr_at(t: int) -> float:
        return base_lr * gamma ** _check_t(t)

    return lr_at


def cosine_annealing(base_lr: float, total_steps: int, min_lr: float = 0.0) -> LrAt:
    """``lr(t) = min_lr + (base_lr − min_lr) · (1 + cos(π t / T)) / 2`` for ``t ≤ T``, ``min_lr`` after.

    ``T = total_steps``. The curve falls from ``base_lr`` at ``t = 0`` to ``min_lr`` at
    ``t = T`` and stays there (SGDR, Loshchilov & Hutter 2017, without restarts).

    Twin: torch.optim.lr_scheduler.CosineAnnealingLR(T_max=T, eta_min=min_lr), for ``t ≤ T``
    only: past ``T_max`` torch's cosine keeps going and climbs back up to ``base_lr`` at
    ``2 T``; this one holds ``min_lr``.
    """
    base_lr = _check_lr("base_lr", base_lr)
    total_steps = _check_count("total_steps", total_steps, minimum=1)
    min_lr = _check_min_lr(min_lr, base_lr)

    def lr_at(t: int) -> float:
        return _cosine(base_lr, min_lr, min(_check_t(t), total_steps), total_steps)

    return lr_at


def warmup_cosine(
    base_lr: float,
    warmup_steps: int,
    total_steps: int,
    min_lr: float = 0.0,
    start_factor: float | None = None,
) -> LrAt:
    """Linear warm-up for ``W`` updates, then cosine annealing down to ``min_lr`` at ``T``.

    With ``W = warmup_steps``, ``T = total_steps``, ``s = start_factor``::

        lr(t) = base_lr · (s + (1 − s) · t / W)                                    t < W
        lr(t) = min_lr + (base_lr − min_lr) · (1 + cos(π (t − W) / (T − W))) / 2   W ≤ t ≤ T
        lr(t) = min_lr                                                             t > T

    The warm-up starts at ``s · base_lr`` and reaches ``base_lr`` at ``t = W``, the first
    value of the cosine. ``start_factor=None`` (the default) means ``s = 1 / (W + 1)``,
    which makes the warm-up ``lr(t) = base_lr · (t + 1) / (W + 1)``: equal increments
    whatever ``W`` is, and, unlike a ramp from 0, no update is wasted with ``lr = 0``.
    ``W = 0`` gives plain cosine annealing.

    Twin: SequentialLR([LinearLR(start_factor=s, total_iters=W),
    CosineAnnealingLR(T_max=T − W, eta_min=min_lr)], milestones=[W]), for ``t ≤ T``.
    """
    base_lr = _check_lr("base_lr", base_lr)
    warmup_steps, total_steps = _check_warmup(warmup_steps, total_steps)
    min_lr = _check_min_lr(min_lr, base_lr)
    ramp = _warmup(base_lr, warmup_steps, start_factor)
    decay_steps = total_steps - warmup_steps

    def lr_at(t: int) -> float:
        if _check_t(t) < warmup_steps:
            return ramp(t)
        if t >= total_steps:  # also covers W = T, where there is no cosine part
            return min_lr
        return _cosine(base_lr, min_lr, t - warmup_steps, decay_steps)

    return lr_at


def warmup_linear(
    base_lr: float,
    warmup_steps: int,
    total_steps: int,
    start_factor: float | None = None,
) -> LrAt:
    """Linear warm-up for ``W`` updates, then linear decay to 0 at ``T``.

    With ``W = warmup_steps``, ``T = total_steps``, ``s = start_factor``::

        lr(t) = base_lr · (s + (1 − s) · t / W)      t < W
        lr(t) = base_lr · (T − t) / (T − W)          W ≤ t ≤ T
        lr(t) = 0                                    t > T

    ``start_factor=None`` means ``s = 1 / (W + 1)``, as in ``warmup_cosine`` (see there).

    Twin: SequentialLR([LinearLR(start_factor=s, total_iters=W),
    LinearLR(start_factor=1, end_factor=0, total_iters=T − W)], milestones=[W])
    """
    base_lr = _check_lr("base_lr", base_lr)
    warmup_steps, total_steps = _check_warmup(warmup_steps, total_steps)
    ramp = _warmup(base_lr, warmup_steps, start_factor)
    decay_steps = total_steps - warmup_steps

    def lr_at(t: int) -> float:
        if _check_t(t) < warmup_steps:
            return ramp(t)
        if t >= total_steps:
            return 0.0
        return base_lr * (total_steps - t) / decay_steps

    return lr_at


SCHEDULES: dict[str, Callable[..., LrAt]] = {
    "constant": constant,
    "step": step_decay,
    "exponential": exponential_decay,
    "cosine": cosine_annealing,
    "warmup_cosine": warmup_cosine,
    "warmup_linear": warmup_linear,
}


class Scheduler:
    """Sets an optimizer's learning rate to ``lr_at(t)`` after its ``t``-th update.

    Works with anything that has ``param_groups``, a list of dicts with an ``"lr"`` key:
    torch optimizers and divelab's scratch ones alike. Use it like a torch scheduler::

        scheduler = Scheduler(optimizer, cosine_annealing(0.1, total_steps=1000))
        for batch in batches:
            ...; optimizer.step(); scheduler.step()

    ``lr_at`` is either one schedule, used for every param group (they must then start
    with the same lr, so that a torch-style "scale each group" expectation fails loudly
    instead of being silently flattened), or a sequence of schedules, one per group, for
    groups with different base lrs (e.g. ``[cosine_annealing(0.1, T), cosine_annealing(0.01, T)]``,
    which is what torch's schedulers do with two groups).

    Construction overwrites every group's lr with ``lr_at(0)``, as torch's schedulers do.

    Twin: torch.optim.lr_scheduler.LRScheduler (step / get_last_lr / state_dict interface)
    """

    def __init__(self, optimizer: Any, lr_at: LrAt | Sequence[LrAt]) -> None:
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list) or not groups:
            raise ValueError("Scheduler needs an optimizer with a non-empty list `param_groups`")
        self.optimizer = optimizer
        self._schedules = _per_group(lr_at, groups)
        self.t = 0
        self._apply()

    def step(self) -> None:
        """Count one more optimizer update and set the lr for the next one: ``t ← t + 1``."""
        self.t += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The lr this scheduler last set, one per param group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, int]:
        """What is needed to resume, JSON-friendly: ``{"t": t}`` (the schedule itself is code)."""
        return {"t": self.t}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resume at the saved ``t``, and set the optimizer's lr to ``lr_at(t)`` right away."""
        if "t" not in state_dict:
            raise ValueError(f"Scheduler state dict needs a 't' entry, got keys {sorted(state_dict)}")
        self.t = _check_count("t", state_dict["t"], minimum=0)
        self._apply()

    def _apply(self) -> None:
        self._last_lr = [float(schedule(self.t)) for schedule in self._schedules]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            group["lr"] = lr


def _per_group(lr_at: LrAt | Sequence[LrAt], groups: list[dict[str, Any]]) -> list[LrAt]:
    """One schedule per param group: a list given as is, or a single schedule repeated."""
    if callable(lr_at):
        lrs = {float(group["lr"]) for group in groups}
        if len(lrs) > 1:
            raise ValueError(
                f"param groups start with different lrs {sorted(lrs)}; one schedule would give them all the "
                "same lr: pass one schedule per group instead"
            )
        return [lr_at] * len(groups)
    schedules = list(lr_at)
    if len(schedules) != len(groups) or not all(callable(s) for s in schedules):
        raise ValueError(f"need one schedule per param group ({len(groups)}), got {len(schedules)} items")
    return schedules


def _cosine(base_lr: float, min_lr: float, t: int, steps: int) -> float:
    """``min_lr + (base_lr − min_lr) · (1 + cos(π t / steps)) / 2``."""
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * t / steps)) / 2


def _warmup(base_lr: float, warmup_steps: int, start_factor: float | None) -> LrAt:
    """The ramp ``base_lr · (s + (1 − s) · t / W)`` used for ``t < W``."""
    if start_factor is None:
        start_factor = 1 / (warmup_steps + 1)
    start_factor = float(start_factor)
    if not 0 < start_factor <= 1:
        raise ValueError(f"start_factor must be in (0, 1], got {start_factor}")

    def ramp(t: int) -> float:
        return base_lr * (start_factor + (1 - start_factor) * t / warmup_steps)

    return ramp


def _check_t(t: int) -> int:
    return _check_count("t", t, minimum=0)


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_lr(name: str, lr: float) -> float:
    lr = float(lr)
    if not (lr > 0 and math.isfinite(lr)):  # also rejects NaN
        raise ValueError(f"{name} must be a finite number > 0, got {lr}")
    return lr


def _check_gamma(gamma: float) -> float:
    gamma = float(gamma)
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    return gamma


def _check_min_lr(min_lr: float, base_lr: float) -> float:
    min_lr = float(min_lr)
    if not 0 <= min_lr <= base_lr:
        raise ValueError(f"min_lr must be in [0, base_lr={base_lr}], got {min_lr}")
    return min_lr


def _check_warmup(warmup_steps: int, total_steps: int) -> tuple[int, int]:
    warmup_steps = _check_count("warmup_steps", warmup_steps, minimum=0)
    total_steps = _check_count("total_steps", total_steps, minimum=1)
    if warmup_steps > total_steps:
        raise ValueError(f"warmup_steps ({warmup_steps}) must be <= total_steps ({total_steps})")
    return warmup_steps, total_steps
