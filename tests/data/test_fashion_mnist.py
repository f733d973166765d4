import hashlib

import numpy as np
import pytest
import torch

from divelab.data import fashion_mnist as fm
from divelab.data.idx import write_idx
from divelab.errors import DataError
from tests.conftest import write_fake_fashion_mnist


@pytest.fixture
def no_system_data(tmp_path, monkeypatch):
    """No Debian package, no cache, no network: only what a test provides."""
    monkeypatch.delenv("DIVELAB_DATA", raising=False)
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(fm, "BASE_URL", (tmp_path / "no-server").as_uri() + "/")


def test_load_fake_data(fake_data):
    data = fm.load()
    assert data.source == fake_data
    assert data.train_images.shape == (512, 28, 28) and data.train_images.dtype == torch.uint8
    assert data.test_labels.shape == (128,) and data.test_labels.dtype == torch.int64
    assert len(fm.CLASS_NAMES) == 10


def test_explicit_dir_may_hold_a_fashion_mnist_subfolder(tmp_path, no_system_data):
    write_fake_fashion_mnist(tmp_path / "root" / "fashion-mnist")
    assert fm.locate(str(tmp_path / "root")) == tmp_path / "root" / "fashion-mnist"


def test_broken_explicit_dir_is_an_error_not_replaced(tmp_path, monkeypatch):
    good = write_fake_fashion_mnist(tmp_path / "debian")
    monkeypatch.setattr(fm, "DEBIAN_DIR", good)  # a working fallback exists ...
    monkeypatch.setenv("DIVELAB_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="does not exist"):  # ... and is not used
        fm.locate()
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DataError, match="lacks Fashion-MNIST file"):
        fm.locate(str(partial))


def test_debian_package_is_used_when_nothing_explicit(tmp_path, monkeypatch, no_system_data):
    debian = write_fake_fashion_mnist(tmp_path / "debian")
    monkeypatch.setattr(fm, "DEBIAN_DIR", debian)
    assert fm.locate() == debian


def test_nothing_found_says_how_to_get_it(no_system_data):
    with pytest.raises(DataError) as info:
        fm.locate()
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "DIVELAB_DATA" in message and "download failed" in message


def test_download_is_verified_and_atomic(tmp_path, monkeypatch, no_system_data):
    server = write_fake_fashion_mnist(tmp_path / "server")
    hashes = {name: hashlib.sha256((server / name).read_bytes()).hexdigest() for name in fm.FILES.values()}
    monkeypatch.setattr(fm, "SHA256", hashes)
    monkeypatch.setattr(fm, "BASE_URL", server.as_uri() + "/")
    assert fm.locate() == fm.cache_dir()
    assert fm.load().train_images.shape == (512, 28, 28)

    # a tampered file is refused and leaves nothing that looks complete
    bad = dict(hashes, **{"t10k-labels-idx1-ubyte.gz": "0" * 64})
    monkeypatch.setattr(fm, "SHA256", bad)
    target = tmp_path / "fresh"
    with pytest.raises(OSError, match="SHA-256"):
        fm.fetch(target, server.as_uri() + "/")
    assert not (target / "t10k-labels-idx1-ubyte.gz").exists()
    assert not list(target.glob("*.part"))


def test_label_count_mismatch_is_rejected(fake_data):
    write_idx(fake_data / "t10k-labels-idx1-ubyte.gz", np.zeros(100, dtype=np.uint8))
    with pytest.raises(DataError, match="holds 100 labels but its images file holds 128"):
        fm.load()


def test_label_out_of_range_is_rejected(fake_data):
    write_idx(fake_data / "t10k-labels-idx1-ubyte.gz", np.full(128, 12, dtype=np.uint8))
    with pytest.raises(DataError, match="label 12"):
        fm.load()


def test_wrong_image_size_is_rejected(fake_data):
    write_idx(fake_data / "t10k-images-idx3-ubyte.gz", np.zeros((128, 32, 32), dtype=np.uint8))
    with pytest.raises(DataError, match=r"t10k-images.*shape \(32, 32\)"):
        fm.load()


def test_loaders_hold_float_images_in_unit_range(fake_data):
    _, train, test = fm.loaders(batch_size=100, seed=0, device="cpu")
    x, y = next(iter(train.batches(1)))
    assert x.shape == (100, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert len(train) == 6 and len(test) == 2
