"""The trainer: exact resume (between and within epochs), Ctrl-C, divergence, metrics file."""

import json
import math
import os
import signal

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.data import TensorLoader
from divelab.train import Interrupted, Trainer, TrainingDiverged
from divelab.train import checkpoint


def _problem(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(300, 8, generator=gen)
    y = (x[:, :3].sum(1) > 0).long() + (x[:, 3] > 1).long()
    return x, y


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _trainer(out_dir, epochs, loss_fn=F.cross_entropy, callbacks=(), device="cpu"):
    """A small MLP with dropout and momentum, so RNG and optimizer state both matter."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = _problem()
    train = TensorLoader(x, y, batch_size=32, shuffle=True, seed=7, device=device)
    test = TensorLoader(*_problem(1), batch_size=100, device=device)
    return Trainer(model, loss_fn, optimizer, train, test, epochs=epochs, out_dir=out_dir,
                   progress=False, callbacks=callbacks)


def _weights(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_records_metrics_and_learns(tmp_path):
    trainer = _trainer(tmp_path, epochs=4)
    history = trainer.fit()
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert {"train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds", "train_seconds"} <= history[0].keys()
    # train_seconds: one epoch's batch loop; seconds: the run so far, evaluation included
    assert 0 < history[1]["train_seconds"] <= history[1]["seconds"] - history[0]["seconds"] + 1e-3
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == history


@pytest.mark.parametrize("device", DEVICES)
def test_resume_between_epochs_ends_with_identical_weights(tmp_path, device):
    straight = _trainer(tmp_path / "a", epochs=2, device=device)
    straight.fit()
    first = _trainer(tmp_path / "b", epochs=1, device=device)
    first.fit()
    second = _trainer(tmp_path / "b", epochs=2, device=device)
    history = second.fit(resume=True)
    _assert_same(_weights(straight), _weights(second))
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[1]["train_loss"] == straight.history[1]["train_loss"]


@pytest.mark.parametrize("device", DEVICES)
def test_ctrl_c_mid_epoch_checkpoints_and_resume_is_exact(tmp_path, device):
    straight = _trainer(tmp_path / "a", epochs=2, device=device)
    straight.fit()

    calls = {"n": 0}

    def interrupting_loss(out, y):
        calls["n"] += 1
        if calls["n"] == 17:  # epoch 1: 10 train + 3 eval calls; so batch 4 of epoch 2
            os.kill(os.getpid(), signal.SIGINT)
        return F.cross_entropy(out, y)

    interrupted = _trainer(tmp_path / "b", epochs=2, loss_fn=interrupting_loss, device=device)
    with pytest.raises(Interrupted) as info:
        interrupted.fit()
    assert (info.value.epoch, info.value.batch) == (2, 4)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored

    resumed = _trainer(tmp_path / "b", epochs=2, device=device)
    resumed.fit(resume=True)
    _assert_same(_weights(straight), _weights(resumed))
    assert resumed.history[1]["train_loss"] == pytest.approx(straight.history[1]["train_loss"], rel=1e-6)


def test_divergence_stops_with_error_and_keeps_last_good_checkpoint(tmp_path):
    def explode_after_first_epoch(trainer, record):
        trainer.optimizer.param_groups[0]["lr"] = 1e38

    trainer = _trainer(tmp_path, epochs=3, callbacks=[explode_after_first_epoch])
    with pytest.raises(TrainingDiverged, match="epoch 2.*last good checkpoint"):
        trainer.fit()
    state = checkpoint.load(tmp_path / "checkpoint")
    assert state["position"]["epoch"] == 2 and state["position"]["batch"] == 0
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_resume_with_another_model_is_refused(tmp_path):
    _trainer(tmp_path, epochs=1).fit()
    other = _trainer(tmp_path, epochs=2)
    other.model = nn.Sequential(nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 3))
    with pytest.raises(checkpoint.CheckpointError, match="does not match this run"):
        other.fit(resume=True)


def test_without_out_dir_nothing_is_written(tmp_path):
    trainer = _trainer(None, epochs=1)
    trainer.fit()
    assert list(tmp_path.iterdir()) == []


# ---- learning-rate schedules: stepped per update, checkpointed, resumed exactly ----------------

def _scheduled_trainer(out_dir, scratch, loss_fn=F.cross_entropy):
    """Adam with a warm-up + cosine schedule (torch's or the scratch twins), 2 epochs of 10 batches."""
    from divelab.config import OptimConfig
    from divelab.train.optim import build_optimizer, build_schedule

    trainer = _trainer(out_dir, epochs=2, loss_fn=loss_fn)
    cfg = OptimConfig(epochs=2, lr=0.01, optimizer="adam", schedule="warmup_cosine", warmup_epochs=0.5)
    trainer.optimizer = build_optimizer(cfg, trainer.model.parameters(), scratch=scratch)
    trainer.scheduler = build_schedule(cfg, trainer.optimizer, len(trainer.train_loader), scratch=scratch)
    return trainer


@pytest.mark.parametrize("scratch", [False, True], ids=["torch", "scratch"])
def test_scheduler_steps_per_update_and_resumes_mid_epoch_exactly(tmp_path, scratch):
    straight = _scheduled_trainer(tmp_path / "a", scratch)
    straight.fit()
    # 20 updates planned; after the last one the cosine has reached 0
    assert straight.history[0]["lr"] == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * 5 / 15)))
    assert straight.history[1]["lr"] == pytest.approx(0.0, abs=1e-12)

    calls = {"n": 0}

    def interrupting_loss(out, y):
        calls["n"] += 1
        if calls["n"] == 7:  # batch 7 of epoch 1: inside the cosine part, after the warm-up
            os.kill(os.getpid(), signal.SIGINT)
        return F.cross_entropy(out, y)

    with pytest.raises(Interrupted):
        _scheduled_trainer(tmp_path / "b", scratch, loss_fn=interrupting_loss).fit()
    resumed = _scheduled_trainer(tmp_path / "b", scratch)
    resumed.fit(resume=True)
    _assert_same(_weights(straight), _weights(resumed))
    assert [r["lr"] for r in resumed.history] == [r["lr"] for r in straight.history]


def test_resume_without_the_checkpointed_schedule_is_refused(tmp_path):
    _scheduled_trainer(tmp_path, scratch=False).fit()
    plain = _trainer(tmp_path, epochs=3)
    plain.optimizer = torch.optim.Adam(plain.model.parameters(), lr=0.01)
    with pytest.raises(checkpoint.CheckpointError, match="another learning-rate schedule"):
        plain.fit(resume=True)
