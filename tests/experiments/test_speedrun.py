"""speedrun on the fake data set: stopping at the target, the wall clock, TTA evaluation, config errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

import divelab
import divelab.experiments
from divelab.data import TensorLoader
from divelab.errors import UserError
from divelab.experiments.speedrun import EXPERIMENTS, TargetClock, evaluate_tta, tta_logits
from divelab.models.speednet import SpeedNet
from divelab.train.precision import MixedPrecision

FP32 = MixedPrecision("fp32", torch.device("cpu"))  # what a trainer in fp32 offers the clock

# 512 fake training images in batches of 128: 4 updates per epoch, a fraction of a second each; at this
# small learning rate the first epoch ends below 90 % test accuracy and the second above it
TINY = {"widths": (8, 16), "extra": (1, 0), "batch_size": 128, "lr": 0.01, "warmup_epochs": 1.0, "eval_epochs": 0}


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ``speedrun`` through ``divelab.run`` whether or not the registry lists it yet."""
    monkeypatch.setitem(divelab.experiments.EXPERIMENTS, "speedrun", EXPERIMENTS[0])


def metrics(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "metrics.jsonl").read_text().splitlines()]


def test_stops_after_the_first_epoch_that_reaches_the_target(fake_data, tmp_path):
    result = divelab.run("speedrun", epochs=6, target=0.9, out=tmp_path / "run", progress=False, **TINY)
    s, records = result.summary, metrics(tmp_path / "run")
    assert s["epoch_of_target"] is not None and s["epoch_of_target"] >= 2, "need an epoch below the target first"
    assert [r["epoch"] for r in records] == list(range(1, s["epoch_of_target"] + 1))  # nothing after it
    assert all(r["test_acc"] < 0.9 for r in records[:-1]) and records[-1]["test_acc"] >= 0.9
    assert s["seconds_to_target"] == records[-1]["wall_seconds"] == s["wall_seconds"]
    assert s["best_test_acc"] == max(r["test_acc"] for r in records)
    assert {p.name for p in result.figures} == {"curves.png", "time_to_accuracy.png"}
    settings = json.loads((tmp_path / "run" / "config.json").read_text())
    assert settings["settings"]["widths"] == [8, 16] and settings["settings"]["extra"] == [1, 0]  # real lists


def test_full_budget_clock_increases_and_covers_the_training_time(fake_data, tmp_path):
    s = divelab.run("speedrun", epochs=3, target=0.9, stop_at_target=False, out=tmp_path / "run",
                    progress=False, **TINY).summary
    records = metrics(tmp_path / "run")
    assert [r["epoch"] for r in records] == [1, 2, 3] and s["epochs_run"] == 3
    walls = [r["wall_seconds"] for r in records]
    assert all(a < b for a, b in zip(walls, walls[1:]))
    # the wall clock counts every batch loop and every evaluation so far
    assert all(w >= sum(r["train_seconds"] + r["eval_seconds"] for r in records[:i + 1]) - 1e-3
               for i, w in enumerate(walls))
    first = next((r for r in records if r["test_acc"] >= 0.9), None)
    assert s["seconds_to_target"] == (first["wall_seconds"] if first else None)
    assert s["final_test_acc"] == records[-1]["test_acc"] and math.isfinite(s["data_seconds"])
    # model FLOP utilisation: 6 · MACs per image · images trained / training seconds, over the peak
    images = 512 * s["epochs_run"]
    assert s["model_gflops_per_s"] * 1e9 == pytest.approx(
        6 * s["macs_per_image"] * images / (s["train_seconds_per_epoch"] * s["epochs_run"]), rel=1e-6)
    assert 0 < s["mfu"] == pytest.approx(s["model_gflops_per_s"] / s["peak_gflops_per_s"])


def test_each_flip_mode_builds_its_loader(fake_data):
    from divelab.data import fashion_mnist
    from divelab.data.augment import AlternatingFlips, AugmentedLoader
    from divelab.experiments.speedrun import build_loaders

    cfg = EXPERIMENTS[0].config()
    data = fashion_mnist.load(None)
    device = torch.device("cpu")
    assert cfg.flip == "alternate" and cfg.augment() is None
    assert isinstance(build_loaders(cfg, data, device)[0], AlternatingFlips)
    cfg.flip = "random"
    augment = cfg.augment()
    assert augment is not None and augment.flip_p == 0.5 and augment.padding == 0 and not augment.uses_affine
    assert isinstance(build_loaders(cfg, data, device)[0], AugmentedLoader)
    cfg.flip, cfg.padding = "alternate", 2  # alternating flips, then random translations
    loader = build_loaders(cfg, data, device)[0]
    assert isinstance(loader, AugmentedLoader) and isinstance(loader.loader, AlternatingFlips)
    assert loader.augment.flip_p == 0.0 and loader.augment.padding == 2
    cfg.flip, cfg.padding = "off", 0
    assert cfg.augment() is None and isinstance(build_loaders(cfg, data, device)[0], TensorLoader)


# ---- test-time augmentation -----------------------------------------------------------------

def _model_and_loader(n: int = 50) -> tuple[torch.nn.Module, TensorLoader]:
    torch.manual_seed(0)
    model = SpeedNet(widths=(4, 8), extra=(0, 0))
    model(torch.rand(64, 1, 28, 28))  # one training-mode pass: running statistics that are not the defaults
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
    return model.eval(), TensorLoader(x, y, batch_size=16)


def test_tta_evaluation_is_the_mean_of_the_two_logits():
    model, loader = _model_and_loader()
    x, y = loader.tensors
    with torch.no_grad():
        plain, mirrored = model(x), model(x.flip(-1))
    mean = (plain + mirrored) / 2
    result = evaluate_tta(model, loader, tta=True)
    assert result["acc"] == (mean.argmax(-1) == y).sum().item() / len(y)
    assert result["acc_plain"] == (plain.argmax(-1) == y).sum().item() / len(y)
    assert result["loss"] == pytest.approx(F.cross_entropy(mean, y).item(), rel=1e-6)
    assert not torch.allclose(plain, mirrored), "a random net is not mirror-symmetric: the test would be vacuous"
    no_tta = evaluate_tta(model, loader, tta=False)
    assert no_tta["acc"] == no_tta["acc_plain"] == result["acc_plain"]
    assert no_tta["loss"] == pytest.approx(F.cross_entropy(plain, y).item(), rel=1e-6)


def test_tta_logits_are_exactly_mirror_invariant():
    model, loader = _model_and_loader()
    x = loader.tensors[0]
    with torch.no_grad():
        assert torch.equal(tta_logits(model, x), tta_logits(model, x.flip(-1)))


def test_evaluation_leaves_the_training_mode_alone():
    model, loader = _model_and_loader()
    model.train()
    evaluate_tta(model, loader)
    assert model.training


# ---- the clock as a callback ----------------------------------------------------------------

def test_only_the_last_eval_epochs_are_evaluated_and_the_clock_runs_through_all(fake_data, tmp_path):
    s = divelab.run("speedrun", epochs=3, target=0.9, stop_at_target=False, out=tmp_path / "run",
                    progress=False, **(TINY | {"eval_epochs": 1})).summary
    records = metrics(tmp_path / "run")
    assert ["test_acc" in r for r in records] == [False, False, True]
    walls = [r["wall_seconds"] for r in records]
    assert all(a < b for a, b in zip(walls, walls[1:]))
    assert walls[-1] >= sum(r["train_seconds"] for r in records) + records[-1]["eval_seconds"] - 1e-3
    assert s["best_test_acc"] == s["final_test_acc"] == records[-1]["test_acc"]
    assert s["eval_seconds_per_epoch"] == records[-1]["eval_seconds"]
    assert (tmp_path / "run" / "time_to_accuracy.png").exists()


def test_clock_skips_the_epochs_before_its_first():
    model, loader = _model_and_loader()
    clock = TargetClock(loader, target=0.0, first_epoch=2)
    trainer = SimpleNamespace(model=model, stop_training=False, amp=FP32)
    clock.start()
    records = [{"epoch": e} for e in (1, 2)]
    for record in records:
        clock.on_epoch_end(trainer, record)
    assert set(records[0]) == {"epoch", "wall_seconds"} and "test_acc" in records[1]
    assert clock.epoch_of_target == 2 and trainer.stop_training


def test_unreached_target_neither_stops_nor_sets_a_time():
    model, loader = _model_and_loader()
    clock = TargetClock(loader, target=1.0, stop=True)
    trainer = SimpleNamespace(model=model, stop_training=False, amp=FP32)
    clock.start()
    records = [{"epoch": e} for e in (1, 2)]
    for record in records:
        clock.on_epoch_end(trainer, record)
    assert not trainer.stop_training and clock.seconds_to_target is None and clock.epoch_of_target is None
    assert 0 <= records[0]["wall_seconds"] <= records[1]["wall_seconds"]


def test_resumed_clock_continues_from_the_saved_time():
    model, loader = _model_and_loader()
    clock = TargetClock(loader, target=0.0)
    clock.load_state_dict({"elapsed": 12.5, "seconds_to_target": 3.0, "epoch_of_target": 1})
    record = {"epoch": 2}
    clock.on_epoch_end(SimpleNamespace(model=model, stop_training=False, amp=FP32), record)
    assert record["wall_seconds"] >= 12.5
    assert (clock.seconds_to_target, clock.epoch_of_target) == (3.0, 1)  # the first time is kept


def test_clock_must_be_started():
    model, loader = _model_and_loader()
    with pytest.raises(RuntimeError, match="start"):
        TargetClock(loader, target=0.5).on_epoch_end(SimpleNamespace(model=model, stop_training=False, amp=FP32), {"epoch": 1})


# ---- settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("setting", [{"widths": "8,x"}, {"widths": "8,16", "extra": "1"}, {"extra": "a,b,c"},
                                     {"widths": "0,8,16"}, {"extra": "1,-1,0"}, {"label_smoothing": 1.0},
                                     {"target": 0.0}, {"target": 1.5}, {"padding": -1}, {"eval_batch_size": 0}, {"eval_epochs": -1},
                                     {"head": "avg"}])
def test_bad_settings_are_user_errors(setting, fake_data, tmp_path):
    with pytest.raises(UserError):
        divelab.run("speedrun", out=tmp_path / "run", progress=False, **setting)
