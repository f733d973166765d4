import hashlib
import json
import os
import pickle
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from divelab.errors import CheckpointError
from divelab.train import checkpoint


def _state(value: float) -> dict:
    return {
        "model": {"w": torch.full((2, 3), value), "b": torch.zeros(2)},
        "optimizer": {"state": {0: {"momentum_buffer": torch.ones(3) * value, "step": torch.tensor(5.0)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99), "params": [0]}]},
        "position": {"epoch": 3, "note": None, "flag": True},
    }


def test_round_trip_keeps_tensors_and_key_types(tmp_path):
    checkpoint.save(tmp_path, _state(1.5), tag="a")
    back = checkpoint.load(tmp_path)
    assert torch.equal(back["model"]["w"], torch.full((2, 3), 1.5))
    assert set(back["optimizer"]["state"]) == {0}  # int keys survive JSON
    assert torch.equal(back["optimizer"]["state"][0]["step"], torch.tensor(5.0))
    assert back["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.99]
    assert back["position"] == {"epoch": 3, "note": None, "flag": True}
    assert json.loads((tmp_path / "state.json").read_text())["format"] == checkpoint.FORMAT


def test_shared_storage_tensors_can_be_saved(tmp_path):
    w = torch.randn(4, 4)
    checkpoint.save(tmp_path, {"a": w, "b": w, "row": w[0]}, tag="x")
    back = checkpoint.load(tmp_path)
    assert torch.equal(back["row"], w[0]) and torch.equal(back["b"], w)


def test_only_the_latest_tensor_file_is_kept(tmp_path):
    for i in range(3):
        checkpoint.save(tmp_path, _state(float(i)), tag=f"{i}")
    assert len(list(tmp_path.glob("tensors-*.safetensors"))) == 1
    assert checkpoint.load(tmp_path)["model"]["w"][0, 0].item() == 2.0


def test_crash_while_writing_tensors_keeps_previous_checkpoint(tmp_path, monkeypatch):
    checkpoint.save(tmp_path, _state(1.0), tag="good")
    real_replace = os.replace

    def killed_before_rename(src, dst):
        if Path(dst).name.startswith("tensors-"):
            raise KeyboardInterrupt  # the temporary file is fully written, the rename never happens
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", killed_before_rename)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(tmp_path, _state(2.0), tag="bad")
    monkeypatch.setattr(checkpoint.os, "replace", real_replace)
    assert checkpoint.load(tmp_path)["model"]["w"][0, 0].item() == 1.0
    assert not list(tmp_path.glob(".*.tmp"))


def test_stray_temporary_files_are_cleaned_by_the_next_save(tmp_path):
    (tmp_path / ".tensors-x.safetensors.abc.tmp").write_bytes(b"half")
    checkpoint.save(tmp_path, _state(1.0), tag="a")
    assert not list(tmp_path.glob(".*.tmp"))


def test_crash_before_state_json_rename_keeps_previous_checkpoint(tmp_path, monkeypatch):
    checkpoint.save(tmp_path, _state(1.0), tag="good")
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("state.json"):
            raise OSError("disk vanished")
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", replace)
    with pytest.raises(OSError):
        checkpoint.save(tmp_path, _state(2.0), tag="bad")
    monkeypatch.setattr(checkpoint.os, "replace", real_replace)
    assert checkpoint.load(tmp_path)["model"]["w"][0, 0].item() == 1.0


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


@pytest.mark.parametrize("checksum", [True, False])
def test_pickle_crafted_to_run_code_is_refused(tmp_path, checksum):
    """Refused by the checksum, or (a checkpoint from before checksums) by the safetensors parser."""
    checkpoint.save(tmp_path, _state(1.0), tag="a")
    doc = json.loads((tmp_path / "state.json").read_text())
    (tmp_path / doc["tensors"]).write_bytes(pickle.dumps({"w": _Exploit()}))
    if not checksum:
        del doc["sha256"]
        (tmp_path / "state.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="are damaged" if checksum else "cannot be read as safetensors"):
        checkpoint.load(tmp_path)
    assert not (tmp_path / "PWNED").exists() and not os.path.exists("PWNED")


def test_the_checksum_of_the_tensor_file_is_recorded(tmp_path):
    checkpoint.save(tmp_path, _state(1.0), tag="a")
    doc = json.loads((tmp_path / "state.json").read_text())
    assert doc["sha256"] == hashlib.sha256((tmp_path / doc["tensors"]).read_bytes()).hexdigest()


def test_check_tensors_names_the_first_difference(tmp_path):
    expected = {"a": torch.zeros(2, 3), "b": torch.zeros(4)}
    checkpoint.check_tensors({"a": torch.zeros(2, 3), "b": torch.zeros(4)}, expected, "model", tmp_path)
    cases = [({"a": torch.zeros(2, 3)}, "this model has 'b', the checkpoint does not"),
             ({**expected, "c": torch.zeros(1)}, "the checkpoint's model has 'c'"),
             ({"a": torch.zeros(3, 2), "b": torch.zeros(4)}, r"'a' has shape \(3, 2\) in the checkpoint, \(2, 3\) here"),
             ({"a": torch.zeros(2, 3), "b": torch.zeros(4, dtype=torch.float64)}, "'b' is torch.float64 in the checkpoint")]
    for saved, message in cases:
        with pytest.raises(CheckpointError, match=message):
            checkpoint.check_tensors(saved, expected, "model", tmp_path)


def test_tensor_file_outside_the_directory_is_refused(tmp_path):
    checkpoint.save(tmp_path, _state(1.0), tag="a")
    doc = json.loads((tmp_path / "state.json").read_text())
    doc["tensors"] = "../elsewhere.safetensors"
    (tmp_path / "state.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="outside"):
        checkpoint.load(tmp_path)


@pytest.mark.parametrize("content", ["{not json", "[]", json.dumps({"format": 99, "tensors": "x"}),
                                     json.dumps({"format": checkpoint.FORMAT, "tensors": "t.safetensors"})])
def test_corrupt_state_json_is_refused(tmp_path, content):
    (tmp_path / "state.json").write_text(content)
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path)


def test_missing_checkpoint_says_how_to_start(tmp_path):
    with pytest.raises(CheckpointError, match="without --resume"):
        checkpoint.load(tmp_path / "nothing")


def test_rng_state_round_trip(tmp_path):
    import random

    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    checkpoint.save(tmp_path, {"rng": checkpoint.rng_state()}, tag="r")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(9), np.random.seed(9), random.seed(9)
    checkpoint.set_rng_state(checkpoint.load(tmp_path)["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert random.random() == expected[2]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    """A shared runs/ directory stays readable to colleagues: files get 0666 & ~umask, as open() gives."""
    old = os.umask(umask)
    try:
        checkpoint.save(tmp_path / "ckpt", {"w": torch.ones(2)}, tag="1")
        checkpoint.atomic_write_json(tmp_path / "summary.json", {"a": 1})
    finally:
        os.umask(old)
    files = [tmp_path / "summary.json", *(tmp_path / "ckpt").iterdir()]
    assert len(files) == 3 and all(stat.S_IMODE(f.stat().st_mode) == mode for f in files)
