"""Twin tests for the closed-form lr schedules against torch.optim.lr_scheduler, and the Scheduler.

Tolerance: relative 1e-12 (absolute 0). torch computes each lr from the previous one
(``lr ← lr · γ``, or the cosine/linear ratio of consecutive steps), so its rounding
errors add up, about one ulp per step (measured: at most 2e-15 relative over these
250-step runs). 1e-12 leaves room for that drift, while any real difference (a shifted
step, a wrong factor) is far outside it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
import torch
from torch.optim import lr_scheduler as torch_sched

from divelab.scratch.optim import SGD as ScratchSGD
from divelab.scratch.schedules import (
    SCHEDULES,
    LrAt,
    Scheduler,
    constant,
    cosine_annealing,
    exponential_decay,
    step_decay,
    warmup_cosine,
    warmup_linear,
)

pytestmark = pytest.mark.twin

RTOL = 1e-12
BASE, MIN, W, T = 0.1, 1e-3, 20, 240


def torch_sgd(*lrs: float) -> torch.optim.SGD:
    """A torch SGD with one single-parameter group per lr."""
    return torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs])


def lr_trace(optimizer, scheduler, steps: int) -> list[list[float]]:
    """The lr of every group before the first update and after each of ``steps`` updates."""
    trace = [[g["lr"] for g in optimizer.param_groups]]
    for _ in range(steps):
        optimizer.step()  # no gradients: a no-op, but torch wants it called before scheduler.step()
        scheduler.step()
        trace.append([g["lr"] for g in optimizer.param_groups])
    return trace


def assert_same_trace(ours: list[list[float]], theirs: list[list[float]]) -> None:
    got, want = torch.tensor(ours, dtype=torch.float64), torch.tensor(theirs, dtype=torch.float64)
    torch.testing.assert_close(got, want, rtol=RTOL, atol=0, msg=lambda m: f"lr traces differ (row = t): {m}")


def warmup_then(opt, start_factor: float, warmup: int, after: torch_sched.LRScheduler) -> torch_sched.SequentialLR:
    first = torch_sched.LinearLR(opt, start_factor=start_factor, total_iters=warmup)
    return torch_sched.SequentialLR(opt, [first, after], milestones=[warmup])


# (our schedule, torch scheduler built on an optimizer whose lr is BASE, steps to compare)
TWINS: dict[str, tuple[LrAt, Callable, int]] = {
    "step": (step_decay(BASE, 30, 0.5), lambda o: torch_sched.StepLR(o, step_size=30, gamma=0.5), 250),
    "exponential": (exponential_decay(BASE, 0.98), lambda o: torch_sched.ExponentialLR(o, gamma=0.98), 250),
    "cosine": (cosine_annealing(BASE, T), lambda o: torch_sched.CosineAnnealingLR(o, T_max=T), T),
    "cosine_min": (
        cosine_annealing(BASE, T, MIN),
        lambda o: torch_sched.CosineAnnealingLR(o, T_max=T, eta_min=MIN),
        T,
    ),
    "warmup_cosine": (
        warmup_cosine(BASE, W, T, MIN),  # default start_factor 1 / (W + 1)
        lambda o: warmup_then(o, 1 / (W + 1), W, torch_sched.CosineAnnealingLR(o, T_max=T - W, eta_min=MIN)),
        T,
    ),
    "warmup_cosine_s": (
        warmup_cosine(BASE, W, T, 0.0, start_factor=0.01),
        lambda o: warmup_then(o, 0.01, W, torch_sched.CosineAnnealingLR(o, T_max=T - W)),
        T,
    ),
    "warmup_linear": (  # past T too: both hold 0
        warmup_linear(BASE, W, T),
        lambda o: warmup_then(o, 1 / (W + 1), W, torch_sched.LinearLR(o, 1.0, 0.0, total_iters=T - W)),
        T + 10,
    ),
}


@pytest.mark.parametrize("name", list(TWINS))
def test_follows_torch_scheduler_step_by_step(name: str) -> None:
    lr_at, make_torch, steps = TWINS[name]
    opt_ours, opt_theirs = torch_sgd(BASE), torch_sgd(BASE)
    ours = lr_trace(opt_ours, Scheduler(opt_ours, lr_at), steps)
    theirs = lr_trace(opt_theirs, make_torch(opt_theirs), steps)
    assert_same_trace(ours, theirs)
    assert len({row[0] for row in ours}) > 5  # the lr really moved


def test_sequential_lr_hands_over_at_the_milestone() -> None:
    """torch restarts the second scheduler at its epoch 0 *at* t = W: lr(W) = base, the warm-up's top."""
    opt = torch_sgd(1.0)
    sched = warmup_then(opt, 0.2, 4, torch_sched.CosineAnnealingLR(opt, T_max=6))
    trace = [row[0] for row in lr_trace(opt, sched, 5)]
    assert trace[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0], rel=RTOL)  # t = 0..4
    assert trace[5] == pytest.approx((1 + math.cos(math.pi / 6)) / 2, rel=RTOL)  # cosine epoch 1
    ours = warmup_cosine(1.0, 4, 10, start_factor=0.2)
    assert [ours(t) for t in range(6)] == pytest.approx(trace, rel=RTOL)


@pytest.mark.parametrize("with_warmup", [False, True])
def test_param_groups_with_different_base_lrs(with_warmup: bool) -> None:
    bases = (0.1, 0.02)
    opt_ours, opt_theirs = torch_sgd(*bases), torch_sgd(*bases)
    if with_warmup:
        schedules = [warmup_cosine(b, W, T, MIN) for b in bases]
        theirs = warmup_then(opt_theirs, 1 / (W + 1), W, torch_sched.CosineAnnealingLR(opt_theirs, T - W, MIN))
    else:
        schedules = [cosine_annealing(b, T, MIN) for b in bases]
        theirs = torch_sched.CosineAnnealingLR(opt_theirs, T_max=T, eta_min=MIN)
    assert_same_trace(lr_trace(opt_ours, Scheduler(opt_ours, schedules), T), lr_trace(opt_theirs, theirs, T))


def test_one_schedule_for_groups_with_different_lrs_is_refused() -> None:
    with pytest.raises(ValueError, match="one schedule per group"):
        Scheduler(torch_sgd(0.1, 0.02), cosine_annealing(0.1, 10))
    with pytest.raises(ValueError, match="one schedule per param group"):
        Scheduler(torch_sgd(0.1, 0.02), [cosine_annealing(0.1, 10)])


def test_one_schedule_drives_every_group_that_shares_an_lr() -> None:
    opt = torch_sgd(0.1, 0.1)
    sched = Scheduler(opt, step_decay(0.1, 2))
    for _ in range(3):
        sched.step()
    assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups] == pytest.approx([0.01, 0.01], rel=RTOL)


def test_drives_the_scratch_sgd_update() -> None:
    """With scratch SGD, each update uses the scheduled lr: w_t = w_0 − Σ_{k<t} lr(k) · c for loss = Σ c·w."""
    c = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = ScratchSGD([w], lr=BASE)
    lr_at = warmup_cosine(BASE, 3, 10, MIN)
    sched = Scheduler(opt, lr_at)
    for _ in range(12):
        opt.zero_grad()
        (c * w).sum().backward()
        opt.step()
        sched.step()
        assert opt.lr == lr_at(sched.t)
    torch.testing.assert_close(w.detach(), -sum(lr_at(k) for k in range(12)) * c, rtol=RTOL, atol=0)


def test_sets_lr_at_construction() -> None:
    opt = torch_sgd(123.0)
    sched = Scheduler(opt, warmup_linear(1.0, 4, 10))
    assert opt.param_groups[0]["lr"] == sched.get_last_lr()[0] == pytest.approx(0.2, rel=RTOL)
    assert sched.state_dict() == {"t": 0}


@pytest.mark.parametrize("name", ["step", "warmup_cosine", "warmup_linear"])
def test_state_dict_round_trip_resumes_the_same_schedule(name: str) -> None:
    lr_at, _, steps = TWINS[name]
    opt = torch_sgd(BASE)
    uninterrupted = lr_trace(opt, Scheduler(opt, lr_at), steps)

    opt = torch_sgd(BASE)
    first = Scheduler(opt, lr_at)
    head = lr_trace(opt, first, 100)
    saved = json.loads(json.dumps(first.state_dict()))
    assert saved == {"t": 100}

    opt = torch_sgd(BASE)
    resumed = Scheduler(opt, lr_at)  # sets lr(0) ...
    resumed.load_state_dict(saved)  # ... and this sets lr(100) at once
    assert opt.param_groups[0]["lr"] == head[-1][0]
    tail = lr_trace(opt, resumed, steps - 100)
    assert head + tail[1:] == uninterrupted


@pytest.mark.parametrize("bad", [{}, {"t": -1}, {"t": 1.5}, {"t": "3"}])
def test_load_state_dict_refuses_bad_state(bad: dict) -> None:
    with pytest.raises(ValueError):
        Scheduler(torch_sgd(0.1), constant(0.1)).load_state_dict(bad)


def test_warmup_zero_is_plain_cosine_and_linear_decay() -> None:
    cos, warm_cos = cosine_annealing(BASE, T, MIN), warmup_cosine(BASE, 0, T, MIN)
    lin = warmup_linear(BASE, 0, T)
    for t in range(T + 5):
        assert warm_cos(t) == cos(t)
        assert lin(t) == pytest.approx(BASE * max(T - t, 0) / T, rel=RTOL)


def test_default_start_factor_ramps_in_equal_steps_from_base_over_w_plus_1() -> None:
    for lr_at in (warmup_cosine(1.0, 4, 10), warmup_linear(1.0, 4, 10)):
        assert [lr_at(t) for t in range(5)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0], rel=RTOL)


def test_held_at_the_end_once_total_steps_are_reached() -> None:
    for t in (T, T + 1, 2 * T, 10 * T):
        assert cosine_annealing(BASE, T, MIN)(t) == MIN
        assert warmup_cosine(BASE, W, T, MIN)(t) == MIN
        assert warmup_linear(BASE, W, T)(t) == 0.0
    # warm-up as long as the whole run: ramp, then straight to the end value
    assert warmup_cosine(1.0, 4, 4, 0.1)(3) == pytest.approx(0.8) and warmup_cosine(1.0, 4, 4, 0.1)(4) == 0.1
    assert warmup_linear(1.0, 4, 4)(4) == 0.0


def test_torch_cosine_rises_again_past_t_max_where_ours_holds() -> None:
    """The one deliberate difference: CosineAnnealingLR is periodic (back at base at 2·T_max)."""
    opt = torch_sgd(BASE)
    theirs = lr_trace(opt, torch_sched.CosineAnnealingLR(opt, T_max=10, eta_min=MIN), 20)
    assert theirs[20][0] == pytest.approx(BASE, rel=1e-9)
    assert cosine_annealing(BASE, 10, MIN)(20) == MIN


def test_constant_and_decays_by_formula() -> None:
    assert {constant(0.3)(t) for t in range(50)} == {0.3}
    assert step_decay(1.0, 3, 0.5)(5) == 0.5 and step_decay(1.0, 3, 0.5)(6) == 0.25
    assert exponential_decay(2.0, 0.5)(3) == 0.25
    assert exponential_decay(2.0, 1.0)(1000) == 2.0  # gamma = 1 is allowed: no decay


def test_registry_names_every_schedule() -> None:
    assert set(SCHEDULES) == {"constant", "step", "exponential", "cosine", "warmup_cosine", "warmup_linear"}
    assert SCHEDULES["warmup_cosine"] is warmup_cosine
    assert SCHEDULES["cosine"](BASE, total_steps=T)(0) == pytest.approx(BASE, rel=RTOL)


@pytest.mark.parametrize(
    "make",
    [
        lambda: constant(0.0),
        lambda: constant(-0.1),
        lambda: constant(float("nan")),
        lambda: step_decay(0.1, 0),
        lambda: step_decay(0.1, 2.5),
        lambda: step_decay(0.1, 10, gamma=0.0),
        lambda: step_decay(0.1, 10, gamma=1.5),
        lambda: exponential_decay(0.1, gamma=-0.5),
        lambda: cosine_annealing(0.1, 0),
        lambda: cosine_annealing(0.1, 10, min_lr=0.2),
        lambda: cosine_annealing(0.1, 10, min_lr=-0.01),
        lambda: warmup_cosine(0.1, 11, 10),
        lambda: warmup_cosine(0.1, -1, 10),
        lambda: warmup_cosine(0.1, 2, 10, min_lr=0.5),
        lambda: warmup_cosine(0.1, 2, 10, start_factor=0.0),
        lambda: warmup_cosine(0.1, 2, 10, start_factor=1.5),
        lambda: warmup_linear(0.1, 11, 10),
        lambda: warmup_linear(-0.1, 2, 10),
        lambda: warmup_linear(0.1, 2, 0),
        lambda: cosine_annealing(0.1, 10)(-1),
        lambda: step_decay(0.1, 10)(1.0),
        lambda: Scheduler(object(), constant(0.1)),
    ],
)
def test_bad_arguments_raise_value_error(make: Callable) -> None:
    with pytest.raises(ValueError):
        make()
