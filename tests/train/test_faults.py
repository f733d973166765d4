"""Faults: a run SIGKILLed mid-epoch and mid-checkpoint resumes to the very weights of an
uninterrupted run; an unwritable or full output disk is an ``error:`` before training starts."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from divelab.cli import main
from divelab.data import TensorLoader
from divelab.errors import UserError
from divelab.train import Trainer, checkpoint

ARGS = ["run", "mlp", "--epochs", "4", "--device", "cpu", "--set", "optimizer=momentum", "--set", "hidden=32",
        "--quiet"]


@pytest.fixture
def one_thread(monkeypatch):
    """Bit-identical runs in this process and in its forked children: one thread everywhere."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    """The model's tensors in the run's checkpoint, read from the safetensors file."""
    state = json.loads((run_dir / "checkpoint/state.json").read_text())
    return {k: v for k, v in load_file(run_dir / "checkpoint" / state["tensors"]).items() if k.startswith("s.model.")}


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _pause_forever(marker: Path) -> None:
    marker.write_text("here")
    time.sleep(300)  # until the test's SIGKILL


def _run_until_paused(argv: list[str], install_pause: Callable[[Path], None], marker: Path) -> None:
    """Run ``divelab argv`` in a forked child that pauses where ``install_pause`` says, and
    SIGKILL it there."""

    def child() -> None:
        install_pause(marker)
        main(argv)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.is_alive(), f"the run ended (exit {process.exitcode}) before reaching the kill point"
        assert time.monotonic() < deadline, "the run never reached the kill point"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    assert process.exitcode == -signal.SIGKILL


def _pause_at_update(number: int) -> Callable[[Path], None]:
    """Pause inside the ``number``-th optimizer step (after it, before the next batch)."""

    def install(marker: Path) -> None:
        real_step, count = torch.optim.SGD.step, [0]

        def step(self, *args, **kwargs):
            result = real_step(self, *args, **kwargs)
            count[0] += 1
            if count[0] == number:
                _pause_forever(marker)
            return result

        torch.optim.SGD.step = step

    return install


def _pause_writing_checkpoint(number: int) -> Callable[[Path], None]:
    """Pause in the ``number``-th checkpoint write, after its new tensor file is in place and
    its ``state.json`` is written to a temporary file, before that file is renamed."""

    def install(marker: Path) -> None:
        real_replace, count = os.replace, [0]

        def replace(src, dst):
            if Path(dst).name == checkpoint.STATE_FILE:
                count[0] += 1
                if count[0] == number:
                    _pause_forever(marker)
            return real_replace(src, dst)

        checkpoint.os.replace = replace  # the child's own os module: the test process is untouched

    return install


@pytest.mark.skipif(not hasattr(os, "fork"), reason="kills forked runs")
def test_sigkill_mid_epoch_and_mid_checkpoint_then_resume_ends_with_identical_weights(fake_data, tmp_path, one_thread):
    assert main([*ARGS, "--out", "straight"]) == 0  # 4 epochs of 8 batches, uninterrupted

    # 1. killed in epoch 2, after its 4th update: only epoch 1's checkpoint exists
    _run_until_paused([*ARGS, "--out", "killed"], _pause_at_update(8 + 4), tmp_path / "mark1")
    assert checkpoint.load(tmp_path / "killed/checkpoint")["position"]["epoch"] == 2
    assert [r["epoch"] for r in _metrics(tmp_path / "killed")] == [1]

    # 2. resumed, then killed while writing its 2nd checkpoint (the one after epoch 3)
    _run_until_paused([*ARGS, "--out", "killed", "--resume"], _pause_writing_checkpoint(2), tmp_path / "mark2")
    directory = tmp_path / "killed/checkpoint"
    assert list(directory.glob(".state.json.*.tmp")) and len(list(directory.glob("tensors-*.safetensors"))) == 2
    assert checkpoint.load(directory)["position"]["epoch"] == 3  # the previous checkpoint is intact

    # 3. resumed to the end
    assert main([*ARGS, "--out", "killed", "--resume"]) == 0
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "killed")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    timeless = [{k: v for k, v in r.items() if "seconds" not in k} for r in _metrics(tmp_path / "straight")]
    assert [{k: v for k, v in r.items() if "seconds" not in k} for r in _metrics(tmp_path / "killed")] == timeless
    assert not list(directory.glob(".*.tmp")) and len(list(directory.glob("tensors-*.safetensors"))) == 1


# ---- the output disk ---------------------------------------------------------------------------

def _previous_run(tmp_path) -> dict:
    assert main(["run", "linreg", "--out", "prev", "--quiet"]) == 0
    return {p: p.read_bytes() for p in (tmp_path / "prev").rglob("*") if p.is_file()}


def _assert_error(capsys, code, pattern):
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and pattern in err[0], err


def test_full_disk_is_an_error_before_training_and_earlier_results_stay(capsys, tmp_path, monkeypatch):
    before = _previous_run(tmp_path)
    capsys.readouterr()
    started = []
    monkeypatch.setattr(Trainer, "fit", lambda self, resume=False: started.append(self))

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(os, "write", no_space)
        code = main(["run", "linreg", "--out", "prev", "--quiet"])
    _assert_error(capsys, code, "no space left on the disk of prev")
    assert not started
    assert {p: p.read_bytes() for p in (tmp_path / "prev").rglob("*") if p.is_file()} == before


def test_unwritable_output_is_an_error_before_training(capsys, tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    with monkeypatch.context() as patch:  # as root, file modes do not stop writes: simulate it
        patch.setattr(tempfile, "mkstemp", refused)
        code = main(["run", "linreg", "--out", "locked/run", "--quiet"])
    _assert_error(capsys, code, "cannot write to . (Permission denied); choose another --out")
    assert not (tmp_path / "locked").exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through file modes")
def test_read_only_directory_is_an_error_before_training(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    code = main(["run", "linreg", "--out", "locked/run", "--quiet"])
    _assert_error(capsys, code, "cannot write to locked")


def test_disk_full_mid_run_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 4, generator=gen), torch.randint(0, 2, (64,), generator=gen)
    model = nn.Linear(4, 2)

    def disk_fills(trainer, record):
        if record["epoch"] == 2:
            def no_space(path, data, **kwargs):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            monkeypatch.setattr(checkpoint, "atomic_write_bytes", no_space)

    trainer = Trainer(model, F.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                      TensorLoader(x, y, batch_size=16), epochs=3, out_dir=tmp_path, progress=False,
                      callbacks=[disk_fills])
    with pytest.raises(UserError, match="cannot write the checkpoint .*No space left.*continue with --resume"):
        trainer.fit()
    monkeypatch.undo()
    assert checkpoint.load(tmp_path / "checkpoint")["position"]["epoch"] == 2
