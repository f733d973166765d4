"""Ctrl-C as a user presses it: the real ``divelab`` process, a first SIGINT, then a second soon after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.cli


def _started(proc: subprocess.Popen, out: Path, timeout: float = 60.0) -> None:
    """Wait until the run has written its first epoch record and checkpoint (so it is training, and a
    second Ctrl-C, which stops at once, has a checkpoint to leave intact)."""
    deadline = time.monotonic() + timeout
    while not (out / "metrics.jsonl").is_file() or not (out / "metrics.jsonl").read_text() or \
            not (out / "checkpoint" / "state.json").is_file():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)


@pytest.mark.parametrize("gap", [0.0, 0.01, 0.025, 0.05])
def test_a_second_ctrl_c_soon_after_the_first_ends_quietly(fake_data, tmp_path, gap):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "divelab", "run", "mlp", "--epochs", "10000", "--quiet",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        _started(proc, out)
        proc.send_signal(signal.SIGINT)
        time.sleep(gap)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.startswith("stopped"), err
    assert (out / "checkpoint" / "state.json").is_file()
