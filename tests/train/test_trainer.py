"""The trainer: exact resume (between and within epochs), Ctrl-C, divergence, metrics file, losses
weighted by their terms (tokens for a translation loss)."""

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
from divelab.train.trainer import evaluate, loss_terms
from tests.train.tokens import PAD, RecordingTokenLoss, token_trainer


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
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where a shell started the tests in the background
    with pytest.raises(Interrupted) as info:
        interrupted.fit()
    assert (info.value.epoch, info.value.batch) == (2, 4)
    assert signal.getsignal(signal.SIGINT) is before  # handler restored

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


# ---- losses that average over tokens, not samples ------------------------------------------------

def test_train_loss_of_a_token_mean_loss_is_the_mean_over_the_epochs_tokens():
    """``train_loss`` = Σ_b loss_b·t_b / Σ_b t_b over the epoch's batches (t_b: non-padding tokens),
    not the sample-weighted mean of the batch means (which differs by far more than rounding here)."""
    loss_fn = RecordingTokenLoss()
    trainer = token_trainer(loss_fn, epochs=2)
    history = trainer.fit()
    batches = len(trainer.train_loader)
    assert len(loss_fn.calls) == 2 * batches
    for i, record in enumerate(history):
        calls = loss_fn.calls[i * batches:(i + 1) * batches]
        token_mean = sum(loss * t for loss, t, _ in calls) / sum(t for _, t, _ in calls)
        sample_mean = sum(loss * n for loss, _, n in calls) / sum(n for _, _, n in calls)
        assert record["train_loss"] == pytest.approx(token_mean, rel=1e-6)
        assert abs(sample_mean - token_mean) > 1e-3 * token_mean


def test_val_loss_and_evaluate_of_a_token_mean_loss_are_the_mean_over_the_sets_tokens():
    trainer = token_trainer(epochs=1)
    history = trainer.fit()
    x, y = trainer.val_loader.tensors
    with torch.no_grad():
        logits = trainer.model(x)                                         # (N, T, V)
        whole = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=PAD).item()
        batch_means = sum(trainer.loss_fn(trainer.model(xb), yb).item() * len(yb) for xb, yb in trainer.val_loader)
    assert history[0]["val_loss"] == pytest.approx(whole, rel=1e-5)
    assert evaluate(trainer.model, trainer.val_loader, trainer.loss_fn, classification=False)["loss"] == \
        pytest.approx(whole, rel=1e-5)
    assert abs(batch_means / len(y) - whole) > 1e-3 * whole


def test_loss_terms_are_the_losss_own_count_or_the_samples():
    y = torch.tensor([[1, 2, PAD], [3, PAD, PAD]])
    assert loss_terms(F.cross_entropy, y) == 2
    assert int(loss_terms(RecordingTokenLoss(), y)) == 3


def test_a_checkpoint_without_loss_terms_resumes_with_the_sample_count(tmp_path):
    """Checkpoints written before the trainer counted loss terms hold ``count`` alone; a
    classification loss averages over samples, so resuming from one mid-epoch is still exact."""
    straight = _trainer(tmp_path / "a", epochs=1)
    straight.fit()
    calls = {"n": 0}

    def interrupting_loss(out, y):
        calls["n"] += 1
        if calls["n"] == 4:
            os.kill(os.getpid(), signal.SIGINT)
        return F.cross_entropy(out, y)

    with pytest.raises(Interrupted):
        _trainer(tmp_path / "b", epochs=1, loss_fn=interrupting_loss).fit()
    state_file = tmp_path / "b/checkpoint" / checkpoint.STATE_FILE
    doc = json.loads(state_file.read_text())
    position = doc["state"]["position"]
    assert position.pop("terms") == position["count"] > 0  # mid-epoch: the sums matter
    state_file.write_text(json.dumps(doc))
    resumed = _trainer(tmp_path / "b", epochs=1)
    resumed.fit(resume=True)
    assert resumed.history[0]["train_loss"] == pytest.approx(straight.history[0]["train_loss"], rel=1e-6)
