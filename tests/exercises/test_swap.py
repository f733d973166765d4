"""``divelab run EXPERIMENT --set impl=FILE``: the learner's function, once it passes its check,
is what the experiment calls; a failing file or an experiment without a piece is refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import divelab
from divelab.cli import main
from divelab.scratch import dropout as scratch_dropout
from divelab.scratch import dropout_mlp

LEARNER = '''
import torch
CALLS = []

def dropout(x, p, training=True):
    CALLS.append(tuple(x.shape))
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) > p) / (1 - p)
'''

SMALL = {"epochs": 1, "train_size": 64, "batch_size": 32, "hidden1": 16, "hidden2": 16}


def test_the_experiment_calls_the_learners_dropout(fake_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "dropout.py"
    path.write_text(LEARNER)
    result = divelab.run("dropout-scratch", out=tmp_path / "run", progress=False, impl=str(path), **SMALL)
    calls = sys.modules["divelab_learner_dropout"].CALLS
    assert (32, 16) in calls  # a training batch through a hidden layer of 16
    assert "test_acc" in result.summary
    record = json.loads((tmp_path / "run" / "config.json").read_text())["impl"]
    assert record["exercise"] == "dropout" and record["file"] == str(path.resolve()) and len(record["sha256"]) == 64
    assert dropout_mlp.dropout is scratch_dropout.dropout  # put back after the run


def test_a_failing_file_is_refused_before_anything_runs(fake_data: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "dropout.py"
    path.write_text(LEARNER.replace("/ (1 - p)", ""))
    out = tmp_path / "run"
    assert main(["run", "dropout-scratch", "--out", str(out), "--epochs", "1", "--set", f"impl={path}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: impl=") and "does not pass the dropout check" in err
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["run", "mlp", "--set", "impl=x.py"], "experiment 'mlp' takes no impl= file; these do: "),
    (["run", "dropout-scratch", "--set", "impl=missing.py"], "impl=missing.py: no such file"),
])
def test_impl_user_errors(argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_learners_cell_runs_inside_the_scratch_lstm() -> None:
    """lstm-cell's piece goes into ``LSTMScratch.cell`` (the fused path never calls lstm_cell)."""
    import torch

    from divelab.exercises.registry import EXERCISES
    from divelab.exercises.swap import LearnerPiece, swapped_in
    from divelab.scratch.rnn import LSTMScratch, lstm_cell

    calls = []

    def mine(x, state, *weights):  # noqa: ANN001, ANN202 - a learner's cell
        calls.append(tuple(x.shape))
        return lstm_cell(x, state, *weights)

    layer = LSTMScratch(3, 4)
    with swapped_in(LearnerPiece(EXERCISES["lstm-cell"], mine, Path("lstm_cell.py"), "")):
        layer(torch.randn(5, 2, 3))
    assert calls == [(2, 3)] * 5
    assert LSTMScratch.cell is None
