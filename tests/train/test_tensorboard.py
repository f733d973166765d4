"""TensorBoard logging: per-update and per-epoch scalars that agree with the trainer's records."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.data import TensorLoader
from divelab.train import Trainer

pytest.importorskip("tensorboard", reason="the optional tensorboard package is not installed")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from divelab.train.tensorboard import TensorBoardLogger  # noqa: E402
from tests.train.tokens import RecordingTokenLoss, token_trainer  # noqa: E402

BATCHES = 6  # 48 samples in batches of 8


def _trainer(out_dir, epochs, callbacks):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(48, 5, generator=gen), torch.randint(0, 3, (48,), generator=gen)
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    return Trainer(model, F.cross_entropy, optimizer, TensorLoader(x, y, batch_size=8, shuffle=True),
                   TensorLoader(x, y, batch_size=48), epochs=epochs, callbacks=callbacks, out_dir=out_dir,
                   progress=False, scheduler=scheduler)


def _scalars(log_dir):
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_step_losses_average_to_the_epoch_train_loss(tmp_path):
    logger = TensorBoardLogger(tmp_path / "tb", flush_every=4)  # flushes inside and at the end of epochs
    history = _trainer(None, 3, [logger]).fit()
    scalars = _scalars(tmp_path / "tb")
    steps = scalars["step/loss"]
    assert [s for s, _ in steps] == list(range(1, 3 * BATCHES + 1))
    for record in history:
        epoch_losses = [v for s, v in steps if (record["epoch"] - 1) * BATCHES < s <= record["epoch"] * BATCHES]
        assert sum(epoch_losses) / BATCHES == pytest.approx(record["train_loss"], rel=1e-5)  # equal batches
    # the lr of each update: 0.3 halved every 4 updates
    assert [v for _, v in scalars["step/lr"]] == pytest.approx([0.3 * 0.5 ** ((s - 1) // 4) for s, _ in steps])
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr"):
        assert scalars[f"epoch/{key}"] == [(r["epoch"] * BATCHES, pytest.approx(r[key], rel=1e-6)) for r in history]


def test_step_losses_are_each_updates_loss_value_with_a_token_mean_loss(tmp_path):
    """Batches of unequal token counts: ``step/loss`` is still each batch's ``loss_fn`` value (the
    trainer's ``last_loss``), not a share of the token-weighted running sum."""
    loss_fn = RecordingTokenLoss()
    trainer = token_trainer(loss_fn, epochs=2, callbacks=[TensorBoardLogger(tmp_path / "tb", flush_every=3)])
    trainer.fit()
    steps = _scalars(tmp_path / "tb")["step/loss"]
    assert [s for s, _ in steps] == list(range(1, 2 * len(trainer.train_loader) + 1))
    assert [v for _, v in steps] == [pytest.approx(loss, rel=1e-6) for loss, _, _ in loss_fn.calls]
    assert len({t / n for _, t, n in loss_fn.calls}) > 1  # the batches' tokens per sample differ


def test_nothing_is_written_before_training_or_when_disabled(tmp_path):
    TensorBoardLogger(tmp_path / "tb")
    assert not (tmp_path / "tb").exists()
    _trainer(None, 1, [TensorBoardLogger(tmp_path / "tb", enabled=False)]).fit()
    assert not (tmp_path / "tb").exists()


def test_a_resumed_run_hides_the_events_of_the_killed_run(tmp_path):
    """Events written after the last checkpoint (by a run that was then killed) are purged."""
    from torch.utils.tensorboard import SummaryWriter

    straight = tmp_path / "straight"
    _trainer(straight, 2, [TensorBoardLogger(straight / "tb")]).fit()

    run = tmp_path / "run"
    _trainer(run, 1, [TensorBoardLogger(run / "tb")]).fit()  # checkpoint after epoch 1
    stale = SummaryWriter(str(run / "tb"))  # what a killed run logged beyond its checkpoint
    for step in range(BATCHES + 1, BATCHES + 4):
        stale.add_scalar("step/loss", 99.0, step)
    stale.close()
    _trainer(run, 2, [TensorBoardLogger(run / "tb")]).fit(resume=True)

    resumed, expected = _scalars(run / "tb"), _scalars(straight / "tb")
    assert [s for s, _ in resumed["step/loss"]] == list(range(1, 2 * BATCHES + 1))
    assert all(v != 99.0 for _, v in resumed["step/loss"])
    for tag, values in expected.items():
        if "seconds" in tag:
            continue  # wall time differs between runs
        assert resumed[tag] == [(s, pytest.approx(v, rel=1e-6)) for s, v in values], tag


def test_flush_every_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="flush_every"):
        TensorBoardLogger(tmp_path, flush_every=0)


def test_the_tensorboard_setting_logs_the_runs_trainer(fake_data, tmp_path):
    """``--set tensorboard=true`` logs to ``OUT/tensorboard/``; a fresh run over the directory removes it."""
    import divelab

    result = divelab.run("mlp", epochs=2, batch_size=128, tensorboard=True, out=tmp_path / "run", progress=False)
    scalars = _scalars(tmp_path / "run" / "tensorboard")
    batches = 512 // 128  # the fake training set has 512 images
    assert scalars["epoch/test_acc"] == [(r["epoch"] * batches, pytest.approx(r["test_acc"])) for r in result.history]
    divelab.run("mlp", epochs=1, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "tensorboard").exists()
