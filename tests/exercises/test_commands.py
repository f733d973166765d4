"""``divelab exercise …`` as a learner meets it: start, a wrong then a right answer, check, list,
solution; exit status 0 / 1 / 2; a file is never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from divelab.cli import main

pytestmark = pytest.mark.cli

RIGHT = '''
import torch
def dropout(x, p, training=True):
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) > p) / (1 - p)
'''


def test_a_learners_session(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(tmp_path / "ws")
    assert main(["exercise", "start", "dropout", "--dir", ws]) == 0
    path = tmp_path / "ws" / "dropout.py"
    skeleton = path.read_text()
    assert "def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:" in skeleton
    assert "raise NotImplementedError" in skeleton

    assert main(["exercise", "check", "dropout", "--dir", ws, "--seed", "1"]) == 1
    assert "NOT STARTED" in capsys.readouterr().out

    path.write_text(RIGHT.replace("/ (1 - p)", ""))
    assert main(["exercise", "check", "dropout", "--dir", ws, "--seed", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAILING" in out and "first failing case: p = 0.5, train mode" in out
    assert "hint: the kept elements must be divided by the keep probability" in out

    main(["exercise", "list", "--dir", ws, "--json"])
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["dropout"]["status"] == "failing" and rows["dropout"]["experiments"] == ["dropout-scratch"]

    path.write_text(RIGHT)
    main(["exercise", "list", "--dir", ws, "--json"])
    assert {r["name"]: r for r in json.loads(capsys.readouterr().out)}["dropout"]["status"] == "changed"
    assert main(["exercise", "check", "--all", "--dir", ws]) == 0
    assert "dropout: PASSING" in capsys.readouterr().out
    main(["exercise", "list", "--dir", ws])
    assert "passing" in capsys.readouterr().out


def test_start_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "dropout.py").write_text("# mine\n")
    assert main(["exercise", "start", "dropout", "--dir", str(ws)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert (ws / "dropout.py").read_text() == "# mine\n"


@pytest.mark.parametrize("argv, message", [
    (["exercise", "check", "nope"], "unknown exercise 'nope'"),
    (["exercise", "check", "dropout"], "no file"),
    (["exercise", "check"], "give exercise names or --all"),
    (["exercise", "check", "--all"], "no exercise files"),
    (["exercise", "start", "dropout", "nope"], "unknown exercise 'nope'"),
    (["exercise", "solution", "dropuot"], "did you mean dropout"),
    (["exercise", "grade", "missing-dir"], "is not a directory"),
])
def test_user_errors_are_one_line_and_exit_2(argv: list[str], message: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "divelab-exercises").exists()  # nothing written on a mistake


def test_solution_prints_the_project_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["exercise", "solution", "dropout"]) == 0
    out = capsys.readouterr().out
    assert "def dropout_mask(" in out and "def apply_dropout_mask(" in out and "def dropout(" in out
