"""training-guide on the fake data: four sub-runs, a summary that repeats their last epochs,
the models' sizes recorded for ``divelab diagnose``, and the depth settings checked."""

from __future__ import annotations

import json

import pytest

import divelab
from divelab.errors import UserError

SMALL = {"epochs": 2, "depths": (4, 2), "width": 8, "batch_size": 64}


def test_four_sub_runs_and_a_summary_of_their_last_epochs(fake_data, tmp_path):
    summary = divelab.run("training-guide", out=tmp_path / "tg", progress=False, **SMALL).summary
    out = tmp_path / "tg"
    for name in ("plain-2", "plain-4", "residual-2", "residual-4"):
        last = json.loads((out / f"metrics-{name}.jsonl").read_text().splitlines()[-1])
        kind, depth = name.split("-")
        assert last["epoch"] == 2
        assert summary[f"{kind}_{depth}_train_loss"] == last["train_loss"]
        assert summary[f"{kind}_{depth}_test_acc"] == last["test_acc"]
    # depths are sorted: shallow is 2, deep is 4
    assert summary["plain_shallow_train_loss"] == summary["plain_2_train_loss"]
    assert summary["residual_deep_train_loss"] == summary["residual_4_train_loss"]
    models = {row["name"]: row for row in summary["models"]}
    assert models["plain-4"]["weight_layers"] == models["residual-4"]["weight_layers"] == 4
    assert models["plain-4"]["parameters"] == models["residual-4"]["parameters"]
    assert (out / "training-loss.png").is_file()


@pytest.mark.parametrize("depths, message", [("20", "at least two"), ("20,21", "even"), ("0,2", "even")])
def test_bad_depths_are_user_errors(fake_data, tmp_path, depths, message):
    with pytest.raises(UserError, match=message):
        divelab.run("training-guide", out=tmp_path / "tg", progress=False, **(SMALL | {"depths": depths}))
    assert not (tmp_path / "tg").exists()
