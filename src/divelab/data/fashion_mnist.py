"""Fashion-MNIST (Xiao et al., 2017): 60,000 training and 10,000 test images, 28×28, 10 classes.

Where it is looked for, in order:
1. an explicit directory — ``data_dir`` (``--set data_dir=…``) or ``$DIVELAB_DATA`` — holding
   the four IDX files directly or in a ``fashion-mnist/`` subfolder. If it is given and
   broken, that is an error: it is never silently replaced by another source;
2. the Debian/Ubuntu package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``);
3. an earlier download in ``~/.cache/divelab/fashion-mnist``;
4. a download of the official files, each checked against its SHA-256.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from divelab.data.idx import read_idx
from divelab.data.loader import TensorLoader
from divelab.errors import DataError

CLASS_NAMES = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# SHA-256 of the official gzip files (the Debian package recompresses them; it is trusted as installed).
SHA256 = {
    "train-images-idx3-ubyte.gz": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
    "train-labels-idx1-ubyte.gz": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
    "t10k-images-idx3-ubyte.gz": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
    "t10k-labels-idx1-ubyte.gz": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
}
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
IMAGE_SHAPE = (28, 28)


@dataclass
class FashionMNIST:
    """The whole data set as uint8 image tensors (N, 28, 28) and int64 label tensors (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: Path


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "divelab" / "fashion-mnist"


def _file_in(directory: Path, name: str) -> Path | None:
    """``name`` or its uncompressed twin in ``directory``, if present."""
    for candidate in (directory / name, directory / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _complete(directory: Path) -> bool:
    return all(_file_in(directory, name) for name in FILES.values())


def _explicit_dir(given: str) -> Path:
    root = Path(given).expanduser()
    for directory in (root, root / "fashion-mnist"):
        if _complete(directory):
            return directory
    if not root.is_dir():
        raise DataError(f"data directory {root} does not exist; fix DIVELAB_DATA / data_dir or unset it")
    missing = [n for n in FILES.values() if not _file_in(root, n) and not _file_in(root / "fashion-mnist", n)]
    raise DataError(f"data directory {root} lacks Fashion-MNIST file(s) {', '.join(missing)}; "
                    "put the four IDX files there or unset DIVELAB_DATA / data_dir")


def locate(data_dir: str | None = None, download: bool = True) -> Path:
    """The directory that holds the four Fashion-MNIST files (see the module docstring)."""
    explicit = data_dir or os.environ.get("DIVELAB_DATA")
    if explicit:
        return _explicit_dir(explicit)
    for directory in (DEBIAN_DIR, cache_dir()):
        if _complete(directory):
            return directory
    reason = "downloads are off"
    if download:
        try:
            return fetch(cache_dir())
        except OSError as exc:
            reason = f"download failed: {exc}"
    raise DataError(
        "Fashion-MNIST not found. Install it with 'apt-get install dataset-fashion-mnist', "
        f"or set DIVELAB_DATA to a directory holding {', '.join(FILES.values())}, "
        f"or connect to the network so it can be downloaded from {BASE_URL} ({reason})"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(directory: Path, base_url: str | None = None) -> Path:
    """Download the four official files into ``directory``, each verified by SHA-256.

    A file is written under a temporary name and renamed only once its hash is right, so
    an interrupted or tampered download never looks complete.
    """
    base_url = base_url or BASE_URL
    directory.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        target = directory / name
        if target.is_file() and _sha256(target) == SHA256[name]:
            continue
        print(f"downloading {base_url}{name}", file=sys.stderr)
        partial = target.with_suffix(".part")
        with urllib.request.urlopen(base_url + name, timeout=30) as response, partial.open("wb") as out:
            while block := response.read(1 << 20):
                out.write(block)
        digest = _sha256(partial)
        if digest != SHA256[name]:
            partial.unlink()
            raise OSError(f"{name} has SHA-256 {digest}, expected {SHA256[name]}")
        os.replace(partial, target)
    return directory


def _labels(path: Path, count: int) -> torch.Tensor:
    labels = read_idx(path, rank=1)
    if len(labels) != count:
        raise DataError(f"{path} holds {len(labels)} labels but its images file holds {count} images")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DataError(f"{path} holds label {int(labels.max())}; Fashion-MNIST labels are 0–9")
    return torch.from_numpy(labels.astype(np.int64))


def load(data_dir: str | None = None, download: bool = True) -> FashionMNIST:
    """Read and validate all of Fashion-MNIST (see :func:`locate` for where it is found)."""
    directory = locate(data_dir, download)
    paths = {key: _file_in(directory, name) for key, name in FILES.items()}
    train_images = read_idx(paths["train_images"], rank=3, shape=IMAGE_SHAPE)
    test_images = read_idx(paths["test_images"], rank=3, shape=IMAGE_SHAPE)
    return FashionMNIST(
        train_images=torch.from_numpy(train_images),
        train_labels=_labels(paths["train_labels"], len(train_images)),
        test_images=torch.from_numpy(test_images),
        test_labels=_labels(paths["test_labels"], len(test_images)),
        source=directory,
    )


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, 28, 28) → float32 in [0, 1] with a channel axis, (N, 1, 28, 28)."""
    return images.unsqueeze(1).to(torch.float32).div_(255.0)


def subset(images: torch.Tensor, labels: torch.Tensor, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``size`` examples drawn at random (the draw depends on ``seed`` only), as float images
    (:func:`to_float`). ``size`` 0, or more than there are, keeps them all (the tests' fake data has 512)."""
    n = len(labels)
    if 0 < size < n:
        idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size]
        images, labels = images[idx], labels[idx]
    return to_float(images), labels


def loaders(batch_size: int, seed: int, device: torch.device | str, data_dir: str | None = None,
            ) -> tuple[FashionMNIST, TensorLoader, TensorLoader]:
    """The data set plus a shuffled training loader and an ordered test loader on ``device``."""
    data = load(data_dir)
    train = TensorLoader(to_float(data.train_images), data.train_labels, batch_size=batch_size,
                         shuffle=True, seed=seed, device=device)
    test = TensorLoader(to_float(data.test_images), data.test_labels, batch_size=batch_size, device=device)
    return data, train, test
