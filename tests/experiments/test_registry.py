"""Every registered experiment runs end to end on tiny settings and writes the contract files."""

import json
import math

import pytest

import divelab
from divelab.experiments import EXPERIMENTS


def test_names_are_unique_and_cli_safe():
    names = [e.name for e in EXPERIMENTS.values()]
    assert len(names) == len(set(names))
    assert all(n.replace("-", "").isalnum() and n == n.lower() for n in names)


# the fake text is ~20 kB of a toy grammar: 512 BPE pieces of it are whole phrases, too few for one batch
SMALLER = {"subword-transformer": {"vocab_size": 64}}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_runs_and_reports(name, fake_data, fake_text, fake_pairs, tmp_path):
    result = divelab.run(name, epochs=1, out=tmp_path / name, progress=False, **SMALLER.get(name, {}))
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    assert summary == result.summary
    assert summary["experiment"] == name and summary["seconds"] >= 0
    for key in EXPERIMENTS[name].headline:
        assert isinstance(summary[key], (int, float)) and math.isfinite(summary[key]), key
    assert result.figures and all(p.is_file() and p.stat().st_size > 1000 for p in result.figures)
    config = json.loads((tmp_path / name / "config.json").read_text())
    assert config["experiment"] == name and config["settings"]["epochs"] == 1


@pytest.mark.parametrize("name", ["linreg", "linreg-scratch"])
def test_linreg_recovers_w_and_b(name, tmp_path):
    summary = divelab.run(name, out=tmp_path / name, progress=False).summary
    assert summary["w_error"] < 0.05 and summary["b_error"] < 0.05


def test_linreg_twins_agree(tmp_path):
    """Same data, optimizer and loss: scratch and library models reach the same solution."""
    a = divelab.run("linreg", out=tmp_path / "a", progress=False).summary
    b = divelab.run("linreg-scratch", out=tmp_path / "b", progress=False).summary
    for key in ("w1", "w2", "b"):
        assert a[key] == pytest.approx(b[key], abs=1e-3)


def test_activation_derivatives_match_autograd(tmp_path):
    summary = divelab.run("activations", out=tmp_path / "act", progress=False).summary
    for name in ("relu", "sigmoid", "tanh"):
        assert summary[f"{name}_grad_max_error"] < 1e-12  # float64: a few units of rounding


def test_classifiers_learn_the_fake_task(fake_data, tmp_path):
    result = divelab.run("mlp", epochs=3, lr=0.5, out=tmp_path / "m", progress=False)
    assert result.summary["test_acc"] > 0.5  # the fake images encode the class in a bright band
    assert [r["epoch"] for r in result.history] == [1, 2, 3]


# ---- the real data set: done-means of the foundation issue (run with -m slow) ----------------

@pytest.mark.slow
@pytest.mark.parametrize("name, target", [("softmax", 0.80), ("softmax-scratch", 0.80), ("mlp", 0.85),
                                          ("mlp-scratch", 0.85)])
def test_default_settings_reach_the_course_accuracy(name, target, tmp_path, monkeypatch):
    monkeypatch.delenv("DIVELAB_DATA", raising=False)
    summary = divelab.run(name, out=tmp_path / name, progress=False).summary
    assert summary["test_acc"] >= target
