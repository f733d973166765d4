"""The batch-size experiment on the tiny fake Fashion-MNIST (512 training images)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import divelab
from divelab.errors import UserError
from divelab.config import build_config
from divelab.experiments.batch_size import BatchSizeConfig

N_TRAIN = 512  # size of the fake training set (tests/conftest.py)


def _records(out: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (out / f"metrics-{name}.jsonl").read_text().splitlines()]


def test_one_row_per_batch_size_with_timing_and_accuracy(fake_data, tmp_path):
    out = tmp_path / "bs"
    summary = divelab.run("batch-size", epochs=1, batch_sizes=(64, 8), out=out, progress=False).summary
    rows = summary["rows"]
    assert [r["batch_size"] for r in rows] == [8, 64]  # sorted ascending
    for row in rows:
        bs = row["batch_size"]
        assert row["updates_per_epoch"] == math.ceil(N_TRAIN / bs) == row["updates"]
        assert row["seconds_per_update"] > 0
        assert row["seconds_per_update"] * row["updates_per_epoch"] == pytest.approx(row["seconds_per_epoch"])
        assert 0 <= row["train_acc"] <= 1 and 0 <= row["test_acc"] <= 1
        for key in ("test_acc", "train_acc", "seconds_per_epoch", "seconds_per_update"):
            assert summary[f"{key}_bs{bs}"] == row[key]
        (record,) = _records(out, f"bs{bs}")
        # pure training time: the trainer's total for the epoch also holds the evaluation
        assert 0 < record["train_seconds"] <= record["seconds"] + 1e-3
        assert record["train_seconds"] == pytest.approx(row["seconds_per_epoch"])
    assert summary["train_examples"] == N_TRAIN
    figure = out / "batch-size.png"
    assert figure.is_file() and figure.stat().st_size > 1000


def test_resumed_run_continues_every_batch_size(fake_data, tmp_path):
    out = tmp_path / "bs"
    divelab.run("batch-size", epochs=1, batch_sizes="8,64", out=out, progress=False)
    first = {bs: _records(out, f"bs{bs}")[0] for bs in (8, 64)}
    summary = divelab.run("batch-size", epochs=2, out=out, resume=True, progress=False).summary
    for row in summary["rows"]:
        bs = row["batch_size"]
        records = _records(out, f"bs{bs}")
        assert [r["epoch"] for r in records] == [1, 2]
        assert records[0] == first[bs]  # epoch 1 kept, not retrained
        assert records[1]["seconds"] > records[0]["seconds"]  # the clock carries on from the checkpoint
        assert 0 < records[1]["train_seconds"] <= records[1]["seconds"] - records[0]["seconds"] + 1e-3
        assert row["updates"] == 2 * math.ceil(N_TRAIN / bs)
        times = [r["train_seconds"] for r in records]
        assert row["train_seconds"] == pytest.approx(sum(times))
        assert row["seconds_per_epoch"] == pytest.approx(sum(times) / 2)  # the median of two


@pytest.mark.parametrize("text", ["", " , ", "16,abc", "16,1.5", "0,16", "-8", "16,64,16"])
def test_bad_batch_sizes_are_refused(text, tmp_path):
    with pytest.raises(UserError, match="batch"):
        divelab.run("batch-size", batch_sizes=text, out=tmp_path / "bs", progress=False)
    assert not (tmp_path / "bs").exists()  # refused before anything is written


def test_the_single_batch_size_setting_is_refused(tmp_path):
    with pytest.raises(UserError, match="batch_sizes"):
        divelab.run("batch-size", batch_size=64, out=tmp_path / "bs", progress=False)


def test_batch_sizes_are_sorted_and_spaces_ignored():
    config = build_config(BatchSizeConfig, {"batch_sizes": " 256,16 ,64"})
    assert config.batch_sizes == (256, 16, 64) and config.batch_size_list == [16, 64, 256]
    assert build_config(BatchSizeConfig, {"batch_sizes": [64, 8]}).batch_size_list == [8, 64]
