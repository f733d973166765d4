"""Paths the file system cannot hold — a name over 255 bytes, a path over PATH_MAX — are one-line
errors (exit 2) in every command that takes a path, never a traceback."""

from __future__ import annotations

import pytest

from divelab.cli import main

pytestmark = pytest.mark.cli

LONG_NAME = "n" * 300                 # one component over NAME_MAX (255 bytes)
LONG_PATH = "/".join(["d" * 200] * 25)  # 5,000 bytes: over PATH_MAX (4,096)


@pytest.mark.parametrize("long", [LONG_NAME, LONG_PATH], ids=["name", "path"])
@pytest.mark.parametrize("argv", [
    ["run", "linreg", "--out", "{long}", "--quiet"],
    ["run", "linreg", "--out", "{long}", "--resume", "--quiet"],
    ["show", "{long}"],
    ["report", "{long}"],
    ["diagnose", "{long}"],
    ["run", "softmax", "--set", "data_dir={long}", "--out", "ok", "--quiet"],
    ["run", "text-data", "--set", "text={long}", "--out", "ok", "--quiet"],
    ["translate", "{long}", "hello"],
], ids=["run", "resume", "show", "report", "diagnose", "data_dir", "text", "translate"])
def test_a_path_too_long_is_a_one_line_error(capsys, tmp_path, argv, long):
    code = main([a.replace("{long}", long) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err


def test_a_long_data_path_in_the_environment_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.setenv("DIVELAB_DATA", LONG_PATH)
    code = main(["run", "softmax", "--out", "ok", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
