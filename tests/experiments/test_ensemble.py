"""The ensemble experiment on the tests' fake Fashion-MNIST: what it reports is what its
members' probabilities say (K = 1 is member 1, Jensen holds for every K, the gap is
train − test), every member's history is on disk, and bagging can be switched off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import divelab
from divelab.errors import UserError
from divelab.experiments.ensemble import derived_seed, size_curve
from tests.conftest import write_fake_fashion_mnist

SMALL = {"epochs": 2, "members": 3, "hidden": 32, "batch_size": 64}


def run(tmp_path: Path, progress: bool = False, **settings):
    return divelab.run("ensemble", out=tmp_path / "ensemble", progress=progress, **(SMALL | settings))


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of one small run, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("ensemble")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("DIVELAB_DATA", str(write_fake_fashion_mnist(root / "fmnist")))
        run(root)
    return root / "ensemble"


@pytest.fixture
def summary(out):
    return json.loads((out / "summary.json").read_text())


def rows(summary: dict, kind: str) -> list[dict]:
    return [r for r in summary["per_k"] if r["kind"] == kind]


def members(summary: dict, kind: str) -> list[dict]:
    return [r for r in summary["member_results"] if r["name"].startswith(f"{kind}-")]


def test_every_member_is_trained_by_the_trainer_and_keeps_its_history(summary, out):
    for name in ("seed-1", "seed-2", "seed-3", "bag-1", "bag-2", "bag-3"):
        history = records(out / f"metrics-{name}.jsonl")
        assert [r["epoch"] for r in history] == [1, 2]
        assert {"train_loss", "test_loss", "test_acc"} <= history[-1].keys()
    assert {m["name"] for m in summary["models"]} == {f"{kind}-{k}" for kind in ("seed", "bag") for k in (1, 2, 3)}
    assert {p.name for p in out.glob("*.png")} == {"ensemble-size.png", "gap.png", "members.png"}


@pytest.mark.parametrize("kind", ["seed", "bag"])
def test_an_ensemble_of_one_is_its_first_member(summary, out, kind):
    s = summary
    first, member = rows(s, kind)[0], members(s, kind)[0]
    for key in ("test_acc", "test_loss", "train_acc", "gap"):
        assert first[key] == pytest.approx(member[key], abs=1e-9), key
    # and the trainer, evaluating the same weights after its last epoch, measured the same
    last = records(out / f"metrics-{kind}-1.jsonl")[-1]
    assert first["test_acc"] == pytest.approx(last["test_acc"], abs=1e-12)
    assert first["test_loss"] == pytest.approx(last["test_loss"], rel=1e-5)


@pytest.mark.parametrize("kind", ["seed", "bag"])
def test_each_size_obeys_jensen_and_reports_its_gap(summary, kind):
    s = summary
    curve, singles = rows(s, kind), members(s, kind)
    assert [r["k"] for r in curve] == [1, 2, 3]
    for row in curve:
        mean_member_loss = sum(m["test_loss"] for m in singles[:row["k"]]) / row["k"]
        assert row["test_loss"] <= mean_member_loss + 1e-6
        assert row["gap"] == pytest.approx(row["train_acc"] - row["test_acc"], abs=1e-12)
        assert 0 <= row["vote_test_acc"] <= 1


def test_summary_names_the_full_ensembles_and_the_mean_member(summary):
    s = summary
    full, bag = rows(s, "seed")[-1], rows(s, "bag")[-1]
    assert (s["test_acc"], s["test_loss"], s["gap"]) == (full["test_acc"], full["test_loss"], full["gap"])
    assert (s["bagging_test_acc"], s["bagging_test_loss"]) == (bag["test_acc"], bag["test_loss"])
    accs = [m["test_acc"] for m in members(s, "seed")]
    assert s["single_test_acc"] == pytest.approx(sum(accs) / 3, abs=1e-12)
    assert s["single_test_acc_min"] == min(accs) and s["single_test_acc_max"] == max(accs)
    assert s["acc_gain"] == pytest.approx(s["test_acc"] - s["single_test_acc"], abs=1e-12)
    assert (s["members"], s["train_examples"], s["test_examples"]) == (3, 512, 128)  # the whole fake set
    assert 0.55 < s["bootstrap_distinct_fraction"] < 0.72  # ≈ 1 − 1/e of 512 images


def test_members_differ_and_bagging_members_see_other_data(summary, out):
    seeds, bags = members(summary, "seed"), members(summary, "bag")
    assert len({m["test_loss"] for m in seeds}) == 3  # different seeds: different networks
    # bag-k starts where seed-k does but trains on a resample: it ends elsewhere
    assert all(b["test_loss"] != s["test_loss"] for s, b in zip(seeds, bags))


def test_bagging_can_be_switched_off(fake_data, tmp_path):
    s = run(tmp_path, bagging=False, members=2, epochs=1).summary
    assert {r["kind"] for r in s["per_k"]} == {"seed"} and len(s["per_k"]) == 2
    assert not any(key.startswith("bagging_") for key in s) and "bootstrap_distinct_fraction" not in s
    assert not list((tmp_path / "ensemble").glob("metrics-bag-*.jsonl"))


def test_one_progress_line_per_member(fake_data, tmp_path, capsys):
    run(tmp_path, progress=True, members=2, epochs=1)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(("seed-", "bag-"))]
    assert [line.split(":")[0] for line in lines] == ["seed-1", "seed-2", "bag-1", "bag-2"]


def test_member_seeds_are_distinct_and_reproducible():
    seeds = {derived_seed(0, k) for k in range(1, 11)} | {derived_seed(1, k) for k in range(1, 11)}
    assert len(seeds) == 20  # neighbouring run seeds share no member
    assert derived_seed(0, 3) == derived_seed(0, 3) != derived_seed(0, 3, 1)
    assert all(0 <= s < 2**63 for s in seeds)


@pytest.mark.parametrize("setting", [{"members": 0}, {"train_size": -1}, {"hidden": 0}])
def test_rejects_bad_settings(setting, tmp_path):
    with pytest.raises(UserError):
        run(tmp_path, **setting)


def test_untrained_members_differ_by_seed_and_bag_k_starts_as_seed_k(fake_data, tmp_path):
    """epochs = 0 leaves every member at its initial weights."""
    s = run(tmp_path, epochs=0).summary
    seeds, bags = members(s, "seed"), members(s, "bag")
    assert len({m["test_loss"] for m in seeds}) == 3  # each seed its own initial weights
    assert [b["test_loss"] for b in bags] == [m["test_loss"] for m in seeds]


def test_size_curve_on_constructed_members():
    """Two members, perfect on the training set; on the test set member 1 is right on the first
    half, member 2 on all, sure of it: the K = 2 average follows member 2."""
    labels = torch.tensor([0, 1, 0, 1])
    sure = F.log_softmax(10 * F.one_hot(labels, 2).float(), dim=-1)  # right, confidently
    wrong = F.log_softmax(10 * F.one_hot(1 - labels, 2).float(), dim=-1)
    half = F.log_softmax(0.1 * torch.cat([sure[:2], wrong[2:]]), dim=-1)  # right on the first half, barely sure
    curve = size_curve("seed", torch.stack([sure, sure]), labels, torch.stack([half, sure]), labels)
    assert [r["k"] for r in curve] == [1, 2]
    assert (curve[0]["train_acc"], curve[0]["test_acc"], curve[0]["gap"]) == (1.0, 0.5, 0.5)
    assert (curve[1]["test_acc"], curve[1]["gap"]) == (1.0, 0.0)
    assert curve[1]["test_loss"] < curve[0]["test_loss"]


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(fake_data, tmp_path):
    whole = divelab.run("ensemble", out=tmp_path / "whole", progress=False, **(SMALL | {"members": 2})).summary
    divelab.run("ensemble", out=tmp_path / "resumed", progress=False, **(SMALL | {"members": 2, "epochs": 1}))
    resumed = divelab.run("ensemble", out=tmp_path / "resumed", progress=False, resume=True,
                          **(SMALL | {"members": 2})).summary
    assert resumed["per_k"] == whole["per_k"] and resumed["member_results"] == whole["member_results"]
