"""``batchnorm`` and ``batchnorm-scratch`` on fake data: the two train alike; epochs to the target."""

import pytest

import divelab
from divelab.experiments.stability.batchnorm import epochs_to_target


def test_batchnorm_scratch_and_nn_train_alike(fake_data, tmp_path):
    """Same seed, same data: the scratch-BN LeNet follows the nn.BatchNorm one."""
    a = divelab.run("batchnorm", epochs=2, target_acc=0.3, out=tmp_path / "a", progress=False)
    b = divelab.run("batchnorm-scratch", epochs=2, target_acc=0.3, out=tmp_path / "b", progress=False)
    for key in ("bn_train_loss", "bn_test_loss", "no_bn_train_loss"):
        assert a.summary[key] == pytest.approx(b.summary[key], rel=1e-3), key
    assert a.summary["bn_test_acc"] == pytest.approx(b.summary["bn_test_acc"], abs=0.02)
    assert a.summary["bn_epochs_to_target"] == b.summary["bn_epochs_to_target"]
    assert (tmp_path / "a" / "metrics-bn.jsonl").is_file() and (tmp_path / "a" / "metrics-no-bn.jsonl").is_file()


def test_epochs_to_target():
    history = [{"epoch": 1, "test_acc": 0.5}, {"epoch": 2, "test_acc": 0.81}, {"epoch": 3, "test_acc": 0.79}]
    assert epochs_to_target(history, 0.8) == 2
    assert epochs_to_target(history, 0.9) is None
