"""Trainer callbacks: early stopping with best-weight restore, gradient clipping, sub-runs."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.data import TensorLoader
from divelab.train import Trainer, evaluate
from divelab.train.callbacks import Callback, EarlyStopping, GradClip


def _overfitting_trainer(out_dir, epochs, callbacks, name=None):
    """Few noisy samples, a wide net, a high lr: validation loss soon turns up."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 10, generator=gen)
    y = torch.randint(0, 3, (40,), generator=gen)  # labels are noise: nothing to generalise
    xv, yv = torch.randn(200, 10, generator=gen), torch.randint(0, 3, (200,), generator=gen)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 128), nn.ReLU(), nn.Linear(128, 3))
    return Trainer(model, F.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.2),
                   TensorLoader(x, y, batch_size=8, shuffle=True), epochs=epochs,
                   val_loader=TensorLoader(xv, yv, batch_size=200), callbacks=callbacks,
                   out_dir=out_dir, name=name, progress=False)


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path):
    stopper = EarlyStopping(monitor="val_loss", patience=3)
    trainer = _overfitting_trainer(tmp_path, epochs=100, callbacks=[stopper])
    history = trainer.fit()
    assert len(history) < 100 and trainer.stop_training
    assert stopper.stopped_epoch == history[-1]["epoch"] == stopper.best_epoch + 3
    best = min(history, key=lambda r: r["val_loss"])
    assert best["epoch"] == stopper.best_epoch
    restored = evaluate(trainer.model, trainer.val_loader, F.cross_entropy, classification=True)
    assert restored["loss"] == pytest.approx(best["val_loss"], rel=1e-6)


def test_early_stopping_resumes_with_its_state(tmp_path):
    straight = _overfitting_trainer(tmp_path / "a", 100, [EarlyStopping(patience=3)])
    straight.fit()
    partial = _overfitting_trainer(tmp_path / "b", 2, [EarlyStopping(patience=3)])
    partial.fit()
    resumed_stopper = EarlyStopping(patience=3)
    resumed = _overfitting_trainer(tmp_path / "b", 100, [resumed_stopper])
    resumed.fit(resume=True)
    assert [r["epoch"] for r in resumed.history] == [r["epoch"] for r in straight.history]
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    # a finished, stopped run resumed again does not train further
    again = _overfitting_trainer(tmp_path / "b", 100, [EarlyStopping(patience=3)])
    assert len(again.fit(resume=True)) == len(straight.history)


def test_early_stopping_needs_its_metric():
    trainer = _overfitting_trainer(None, 2, [EarlyStopping(monitor="val_bleu")])
    with pytest.raises(KeyError, match="val_bleu"):
        trainer.fit()


def test_grad_clip_bounds_the_norm_seen_by_the_optimizer():
    seen = []

    class Spy(Callback):
        def after_backward(self, trainer):
            seen.append(torch.sqrt(sum(p.grad.pow(2).sum() for p in trainer.model.parameters())).item())

    trainer = _overfitting_trainer(None, 2, [GradClip(max_norm=0.05), Spy()])
    history = trainer.fit()
    assert max(seen) <= 0.05 * (1 + 1e-5)
    assert history[0]["grad_norm_max"] > 0.05 and 0 < history[0]["clipped_fraction"] <= 1


def test_named_sub_runs_keep_their_files_apart(tmp_path):
    for name in ("small", "large"):
        _overfitting_trainer(tmp_path, 2, [], name=name).fit()
    assert (tmp_path / "metrics-small.jsonl").is_file() and (tmp_path / "metrics-large.jsonl").is_file()
    assert (tmp_path / "checkpoint/small/state.json").is_file()
    assert (tmp_path / "checkpoint/large/state.json").is_file()


def test_plain_functions_are_epoch_end_callbacks():
    trainer = _overfitting_trainer(None, 2, [lambda t, record: record.update(extra=t.epoch * 10)])
    assert [r["extra"] for r in trainer.fit()] == [10, 20]
