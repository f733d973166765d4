"""Optimisers and schedules by name: torch and scratch builds are twins, plans are right."""

from __future__ import annotations

import dataclasses
from typing import get_args

import pytest
import torch

from divelab.config import OptimConfig, OptimizerName, ScheduleName
from divelab.errors import UserError
from divelab.experiments.optimizers import lr_sequence
from divelab.train.optim import build_optimizer, build_schedule, plan

OPTIMIZERS = get_args(OptimizerName)
SCHEDULES = get_args(ScheduleName)


def _trajectory(cfg: OptimConfig, scratch: bool, steps: int = 100) -> torch.Tensor:
    """Parameters of a small float64 least-squares fit after each of ``steps`` minibatch updates."""
    gen = torch.Generator().manual_seed(0)
    X, Y = torch.randn(64, 5, generator=gen, dtype=torch.float64), torch.randn(64, 2, generator=gen, dtype=torch.float64)
    w = torch.randn(5, 2, generator=gen, dtype=torch.float64).requires_grad_(True)
    optimizer = build_optimizer(cfg, [w], scratch=scratch)
    scheduler = build_schedule(cfg, optimizer, steps_per_epoch=steps // cfg.epochs, scratch=scratch)
    path = []
    for step in range(steps):
        rows = slice(16 * (step % 4), 16 * (step % 4) + 16)
        optimizer.zero_grad()
        ((X[rows] @ w - Y[rows]) ** 2).mean().backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        path.append(w.detach().clone())
    return torch.stack(path)


@pytest.mark.twin
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_scratch_and_torch_optimizers_of_each_name_follow_one_path(name):
    cfg = OptimConfig(epochs=4, lr=0.01, optimizer=name, weight_decay=0.05, schedule="warmup_cosine")
    torch.testing.assert_close(_trajectory(cfg, scratch=True), _trajectory(cfg, scratch=False), atol=1e-10, rtol=0)


@pytest.mark.twin
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("epochs, steps_per_epoch, warmup_epochs", [(3, 7, 1.0), (5, 40, 0.0), (2, 10, 1.5)])
def test_scratch_and_torch_schedules_of_each_name_set_the_same_lrs(schedule, epochs, steps_per_epoch, warmup_epochs):
    cfg = OptimConfig(epochs=epochs, lr=0.1, optimizer="momentum", schedule=schedule, warmup_epochs=warmup_epochs)
    mine, theirs = lr_sequence(cfg, steps_per_epoch, scratch=True), lr_sequence(cfg, steps_per_epoch, scratch=False)
    assert len(mine) == epochs * steps_per_epoch
    assert mine == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_schedules_have_their_promised_shape():
    steps = 10

    def lrs(schedule: str, **kw) -> list[float]:
        return lr_sequence(OptimConfig(epochs=3, lr=0.1, schedule=schedule, **kw), steps, scratch=True)

    assert set(lrs("constant")) == {0.1}
    step = lrs("step", gamma=0.5)
    assert step[:10] == [0.1] * 10 and step[10:20] == [0.05] * 10 and step[20:] == [0.025] * 10  # thirds
    assert lrs("exponential", gamma=0.01)[-1] == pytest.approx(0.1 * 0.01 ** (29 / 30))  # → γ·lr at the end
    cosine = lrs("cosine")
    assert cosine[0] == 0.1 and cosine[15] == pytest.approx(0.05) and all(a >= b for a, b in zip(cosine, cosine[1:]))
    warm = lrs("warmup_cosine", warmup_epochs=1)
    assert warm[:11] == pytest.approx([0.1 * (t + 1) / 11 for t in range(11)])  # rises for one epoch
    assert max(warm) == warm[10] == pytest.approx(0.1)


def test_constant_schedule_builds_no_scheduler():
    param = torch.zeros(1, requires_grad=True)
    cfg = OptimConfig()
    assert build_schedule(cfg, build_optimizer(cfg, [param]), 10) is None


@pytest.mark.parametrize("name, cls, extra", [
    ("sgd", torch.optim.SGD, {"momentum": 0}), ("momentum", torch.optim.SGD, {"momentum": 0.8, "nesterov": False}),
    ("nesterov", torch.optim.SGD, {"momentum": 0.8, "nesterov": True}), ("adam", torch.optim.Adam, {}),
    ("adamw", torch.optim.AdamW, {}), ("adagrad", torch.optim.Adagrad, {}), ("rmsprop", torch.optim.RMSprop, {}),
])
def test_names_map_to_the_documented_torch_optimizers(name, cls, extra):
    param = torch.zeros(1, requires_grad=True)
    optimizer = build_optimizer(OptimConfig(optimizer=name, lr=0.3, momentum=0.8, weight_decay=0.1), [param])
    group = optimizer.param_groups[0]
    assert type(optimizer) is cls and group["lr"] == 0.3 and group["weight_decay"] == 0.1
    assert {k: group[k] for k in extra} == extra


def test_plan_counts_updates():
    assert plan(OptimConfig(epochs=3, schedule="cosine"), 7) == (21, 0)
    assert plan(OptimConfig(epochs=3, schedule="warmup_cosine", warmup_epochs=0.5), 7) == (21, 4)  # round(3.5)


@pytest.mark.parametrize("field, value, message", [
    ("momentum", 1.0, "momentum"), ("weight_decay", -1.0, "weight_decay"), ("gamma", 0.0, "gamma"),
    ("warmup_epochs", -1.0, "warmup_epochs"),
])
def test_bad_settings_are_user_errors(field, value, message):
    with pytest.raises(UserError, match=message):
        dataclasses.replace(OptimConfig(), **{field: value}).validate()


def test_warmup_longer_than_the_run_is_refused():
    with pytest.raises(UserError, match="cannot exceed epochs"):
        OptimConfig(epochs=2, schedule="warmup_cosine", warmup_epochs=3).validate()


def test_epochs_stay_fixed_on_resume_only_under_a_schedule():
    assert "epochs" in OptimConfig().resumable()
    assert "epochs" not in OptimConfig(schedule="cosine").resumable()
