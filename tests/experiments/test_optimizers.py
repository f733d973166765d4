"""The optimizers and lr-schedules experiments on the fake data set."""

from __future__ import annotations

import pytest

import divelab
from divelab.analysis.landscapes import LANDSCAPES
from divelab.errors import UserError


def test_optimizers_reports_landscapes_twins_and_fashion(fake_data, tmp_path):
    summary = divelab.run("optimizers", epochs=1, optimizers=("sgd", "adam", "adamw"), out=tmp_path / "o",
                          progress=False).summary
    assert summary["twin_max_diff"] < 1e-12  # scratch and torch.optim walk the same paths
    rows = summary["steps_to_threshold"]
    assert [r["landscape"] for r in rows] == list(LANDSCAPES)
    assert all(set(r) == {"landscape", "sgd", "adam"} for r in rows)  # AdamW = Adam without weights to decay
    assert [r["optimizer"] for r in summary["fashion"]] == ["sgd", "adam", "adamw"]
    assert all(0 <= summary[f"test_acc_{n}"] <= 1 for n in ("sgd", "adam", "adamw"))
    assert (tmp_path / "o" / "paths.png").is_file() and (tmp_path / "o" / "fashion-curves.png").is_file()


@pytest.mark.parametrize("settings, message", [
    ({"optimizers": "sgd,lbfgs"}, "optimizers must list"),
    ({"optimizers": "sgd,sgd"}, "twice"),
    ({"optimizers": "sgd,adam", "lrs": "sgd=0.1"}, "no learning rate for adam"),
    ({"lrs": "sgd=-1"}, "must be > 0"),
    ({"lrs": "sgd=fast"}, "list of floats"),
])
def test_optimizers_rejects_bad_settings(settings, message, tmp_path):
    with pytest.raises(UserError, match=message):
        divelab.run("optimizers", out=tmp_path / "o", progress=False, **settings)
    assert not (tmp_path / "o").exists()


def test_lr_schedules_scratch_and_torch_agree_and_train(fake_data, tmp_path):
    result = divelab.run("lr-schedules", epochs=2, schedules=["constant", "cosine", "warmup_linear"], warmup_epochs=1,
                         out=tmp_path / "s", progress=False)
    assert result.summary["twin_max_rel_diff"] < 1e-12
    assert {"test_acc_constant", "test_acc_cosine", "test_acc_warmup_linear"} <= result.summary.keys()
    history = result.history  # the last sub-run: warm-up for one epoch, then down to 0
    assert history[0]["lr"] == pytest.approx(0.1) and history[1]["lr"] == 0.0


def test_lr_schedules_refuses_a_single_schedule_setting(tmp_path):
    with pytest.raises(UserError, match="schedules named in `schedules`"):
        divelab.run("lr-schedules", schedule="cosine", out=tmp_path / "s", progress=False)


def test_lr_schedules_cannot_stretch_its_schedules_on_resume(fake_data, tmp_path):
    divelab.run("lr-schedules", epochs=1, schedules="cosine", out=tmp_path / "s", progress=False)
    with pytest.raises(UserError, match="cannot change epochs when resuming"):
        divelab.run("lr-schedules", epochs=2, resume=True, out=tmp_path / "s", progress=False)
