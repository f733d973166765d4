"""backprop-scratch end to end on the fake data set: the twin check, the figures, training without autograd."""

from __future__ import annotations

import json

import pytest
import torch

import divelab
from divelab.data import fashion_mnist
from divelab.errors import UserError
from divelab.experiments.backprop import evaluate, gradient_differences, torch_twin, train_epoch
from divelab.scratch.backprop import build_mlp
from divelab.train.progress import Progress


def test_run_reports_the_twin_check_and_the_graph(fake_data, tmp_path):
    result = divelab.run("backprop-scratch", epochs=2, batch_size=64, twin_steps=6, out=tmp_path / "bp",
                         progress=False)
    summary = result.summary
    graph = "x → Flatten → Linear(784→256) → ReLU → Linear(256→10) → softmax-CE(y) → loss"
    assert summary["graph"] == graph
    assert summary["max_grad_diff"] < 1e-12  # float64
    assert summary["max_grad_diff_float32"] < 1e-5
    assert summary["twin_steps"] == 6 and summary["max_weight_diff_after_steps"] < 1e-12
    assert len(summary["grad_diff_per_parameter"]) == len(summary["grad_diff_parameters"]) == 4
    assert 0 <= summary["test_acc"] <= 1 and summary["seconds"] > 0
    metrics = [json.loads(line) for line in (tmp_path / "bp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in metrics] == [1, 2] == [r["epoch"] for r in result.history]
    assert metrics[-1]["test_acc"] == summary["test_acc"]
    assert {p.name for p in result.figures} == {"twin.png", "curves.png"}


def test_twin_steps_can_run_past_one_epoch(fake_data, tmp_path):
    """The fake training set has 2 batches of 256; 5 twin steps continue into the next epochs."""
    summary = divelab.run("backprop-scratch", epochs=0, twin_steps=5, out=tmp_path / "bp", progress=False).summary
    assert summary["twin_steps"] == 5 and summary["max_weight_diff_after_steps"] < 1e-12
    assert summary["train_acc"] is None and 0 <= summary["test_acc"] <= 1


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_other_activations(activation, fake_data, tmp_path):
    summary = divelab.run("backprop-scratch", epochs=1, activation=activation, hidden=32, out=tmp_path / "bp",
                          progress=False).summary
    assert activation.capitalize() in summary["graph"] and summary["max_grad_diff"] < 1e-12


def test_training_loop_needs_no_autograd(fake_data, monkeypatch):
    """With autograd's backward forbidden, the hand-written network still learns the fake task."""
    data, train, test = fashion_mnist.loaders(32, 0, "cpu")
    torch.manual_seed(0)
    model = build_mlp([784, 64, 10])

    def forbidden(*args, **kwargs):
        raise AssertionError("autograd was called")

    monkeypatch.setattr(torch.Tensor, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "backward", forbidden)
    monkeypatch.setattr(torch.autograd, "grad", forbidden)
    before = evaluate(model, test)["acc"]
    for epoch in (1, 2, 3):
        record = train_epoch(model, train, epoch, lr=0.5, progress=Progress(3, len(train), enabled=False))
    assert record["train_loss"] < 2.0
    assert evaluate(model, test)["acc"] > max(0.5, before)  # the class is a bright band: easy to learn


def test_gradient_check_detects_a_wrong_backward():
    """The experiment's check is not vacuous: a broken bias gradient shows up as a large difference."""
    torch.manual_seed(0)
    model = build_mlp([12, 8, 3], std=0.5, dtype=torch.float64)
    x, y = torch.randn(5, 12, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1])
    linear = model.layers[1]
    original = linear.backward

    def wrong_backward(grad_out):
        grad_in = original(grad_out)
        linear.grad_bias = linear.grad_bias * 2
        return grad_in

    linear.backward = wrong_backward
    diffs = gradient_differences(model, torch_twin(model), x, y)
    assert diffs["1.bias"] > 1e-3 and diffs["1.weight"] < 1e-12


def test_resume_is_refused(fake_data, tmp_path):
    """No checkpoint is written, so --resume has nothing to continue from."""
    divelab.run("backprop-scratch", epochs=1, out=tmp_path / "bp", progress=False)
    assert not (tmp_path / "bp" / "checkpoint").exists()
    with pytest.raises(UserError, match="without --resume"):
        divelab.run("backprop-scratch", epochs=2, out=tmp_path / "bp", resume=True, progress=False)


@pytest.mark.parametrize("setting", [{"hidden": 0}, {"twin_steps": 0}, {"activation": "gelu"}])
def test_bad_settings_are_user_errors(setting, fake_data, tmp_path):
    with pytest.raises(UserError):
        divelab.run("backprop-scratch", out=tmp_path / "bp", progress=False, **setting)
