"""``divelab diagnose`` on real short runs built to land in a branch, its JSON, and its mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import divelab
from divelab.cli import main
from divelab.errors import UserError
from tests.conftest import write_fake_fashion_mnist


def diagnose(capsys, *args: str) -> dict:
    assert main(["diagnose", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def kinds(report: dict) -> dict[str, str]:
    return {m["model"]: m["diagnosis"] for m in report["models"]}


def test_a_too_high_learning_rate(fake_data, tmp_path, capsys):
    divelab.run("mlp", epochs=6, lr=5.0, out=tmp_path / "hot", progress=False)
    report = diagnose(capsys, tmp_path / "hot")
    assert kinds(report) == {"mlp": "lr-too-high"}
    assert "jumped" in report["models"][0]["evidence"][0]


def test_a_diverged_run(tmp_path, capsys):
    with pytest.raises(UserError, match="NaN or infinite"):
        divelab.run("linreg", lr=50.0, epochs=3, out=tmp_path / "nan", progress=False)
    report = diagnose(capsys, tmp_path / "nan")
    assert report["status"] == "diverged" and kinds(report) == {"linreg": "diverged"}
    assert main(["diagnose", str(tmp_path / "nan")]) == 0
    assert "linreg: diverged — " in capsys.readouterr().out


def test_a_model_too_small(fake_data, tmp_path, capsys):
    divelab.run("mlp", epochs=15, hidden=1, out=tmp_path / "small", progress=False)
    report = diagnose(capsys, tmp_path / "small")
    assert kinds(report) == {"mlp": "model-bias"}
    # softmax regression: fewer weight layers but more parameters, and it fits better: still model bias
    divelab.run("softmax", epochs=15, lr=0.5, out=tmp_path / "softmax", progress=False)
    report = diagnose(capsys, tmp_path / "small", "--baseline", tmp_path / "softmax")
    assert kinds(report) == {"mlp": "model-bias"}
    assert any("the baseline" in e and "7,850 parameters" in e for e in report["models"][0]["evidence"])


def test_a_baseline_of_unrecorded_size_is_the_simpler_model(fake_data, tmp_path, capsys):
    divelab.run("mlp", epochs=15, hidden=1, out=tmp_path / "small", progress=False)
    divelab.run("softmax", epochs=15, lr=0.5, out=tmp_path / "base", progress=False)
    summary = json.loads((tmp_path / "base" / "summary.json").read_text())
    del summary["models"]  # as an older run's
    (tmp_path / "base" / "summary.json").write_text(json.dumps(summary))
    report = diagnose(capsys, tmp_path / "small", "--baseline", tmp_path / "base")
    assert kinds(report) == {"mlp": "optimisation"}


def test_a_tiny_training_set(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DIVELAB_DATA", str(write_fake_fashion_mnist(tmp_path / "fake40", n_train=40)))
    divelab.run("mlp", epochs=30, out=tmp_path / "tiny", progress=False)
    report = diagnose(capsys, tmp_path / "tiny")
    assert kinds(report) == {"mlp": "overfitting"}
    advice = "\n".join(report["models"][0]["advice"])
    assert "weight decay: not used; try --set weight_decay" in advice


def test_text_output_has_evidence_and_next_steps(fake_data, tmp_path, capsys):
    divelab.run("mlp", epochs=3, out=tmp_path / "m", progress=False)
    assert main(["diagnose", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path / 'm'} · mlp · finished")
    assert "  evidence:\n    - " in out and "  next:\n    - " in out


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "is not a directory"),
    (lambda d: d.mkdir(), "holds no divelab run"),
    (lambda d: (d.mkdir(), (d / "config.json").write_text('{"a": 1}')), "is not a divelab run's"),
])
def test_mistakes_are_one_line(tmp_path, capsys, make, message):
    make(tmp_path / "x")
    assert main(["diagnose", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_corrupt_metrics_file_is_named(fake_data, tmp_path, capsys):
    divelab.run("mlp", epochs=1, out=tmp_path / "m", progress=False)
    (tmp_path / "m" / "metrics.jsonl").write_text("{not json\n")
    assert main(["diagnose", str(tmp_path / "m")]) == 2
    assert "metrics.jsonl line 1" in capsys.readouterr().err


def test_a_missing_baseline_is_a_mistake(fake_data, tmp_path, capsys):
    divelab.run("mlp", epochs=1, out=tmp_path / "m", progress=False)
    assert main(["diagnose", str(tmp_path / "m"), "--baseline", str(tmp_path / "nope")]) == 2
    assert "--baseline" in capsys.readouterr().err


def test_unfinished_runs_are_diagnosed_too(fake_data, tmp_path, capsys):
    divelab.run("mlp", epochs=2, out=tmp_path / "m", progress=False)
    (Path(tmp_path / "m") / "summary.json").unlink()  # as if stopped
    report = diagnose(capsys, tmp_path / "m")
    assert report["status"] == "unfinished" and kinds(report) == {"mlp": "undertrained"}
