"""One run per directory: a second run into a directory in use is refused, naming the process
that has it, and a lock never outlives its process (kill -9 included)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

import divelab
from divelab.errors import UserError
from divelab.lock import LOCK_FILE, exclusive

HOLD = """
import sys, time
from pathlib import Path
from divelab.lock import exclusive
with exclusive(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    """A process holding the lock of tmp_path/run, killed with SIGKILL at the end."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def test_a_run_into_a_directory_in_use_is_refused_and_writes_nothing(tmp_path, holder):
    with pytest.raises(UserError, match=f"run is in use by process {holder.pid} "):
        divelab.run("linreg", out=tmp_path / "run", progress=False, epochs=1)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [LOCK_FILE]


def test_the_lock_dies_with_its_process(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    result = divelab.run("linreg", out=tmp_path / "run", progress=False, epochs=1)
    assert (result.out_dir / "summary.json").is_file()


def test_the_lock_is_released_when_the_block_ends_even_by_an_error(tmp_path):
    with pytest.raises(RuntimeError), exclusive(tmp_path / "run"):
        raise RuntimeError("boom")
    with exclusive(tmp_path / "run"):  # free again
        assert (tmp_path / "run" / LOCK_FILE).read_text().strip().isdigit()
