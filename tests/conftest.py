"""Shared fixtures: a tiny Fashion-MNIST look-alike, a tiny text corpus and a tiny parallel corpus,
so tests never need the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from divelab.data.idx import write_idx


def write_fake_fashion_mnist(directory: Path, n_train: int = 512, n_test: int = 128, seed: int = 0) -> Path:
    """Four IDX files of 28×28 images whose brightest row band encodes the class (learnable)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label + 4:2 * label + 6, :] = 250
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", labels)
    return directory


@pytest.fixture
def fake_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake Fashion-MNIST directory, made the explicit data location via DIVELAB_DATA."""
    directory = write_fake_fashion_mnist(tmp_path / "fmnist")
    monkeypatch.setenv("DIVELAB_DATA", str(directory))
    return directory


def write_fake_text(path: Path, sentences: int = 400, seed: int = 0) -> Path:
    """A small English-like text (one sentence per line) from a toy grammar: learnable, ~20 kB."""
    rng = np.random.default_rng(seed)
    subjects = ["the king", "a shepherd", "his servant", "the people", "my brother", "she", "they"]
    verbs = ["went up to", "spoke to", "looked at", "came down from", "gave bread to", "praised"]
    objects = ["the city", "the mountain", "the river", "the temple", "the house of David", "them"]
    endings = [".", ".", ", and rested.", "!", "; and it was good."]
    lines = [f"{rng.choice(subjects).capitalize()} {rng.choice(verbs)} {rng.choice(objects)}"
             f"{rng.choice(endings)}" for _ in range(sentences)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fake_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake text file, used instead of the Bible by the text experiments via DIVELAB_TEXT."""
    path = write_fake_text(tmp_path / "fake.txt")
    monkeypatch.setenv("DIVELAB_TEXT", str(path))
    return path


def write_fake_pairs(path: Path, n: int = 300, seed: int = 0) -> Path:
    """A toy English→Spanish ``fra.txt``-style file: statements, ¿questions? and ¡exclamations!
    about 150 made-up names (so some names occur only in the held-out pairs)."""
    rng = np.random.default_rng(seed)
    syllables = ["ba", "ke", "lo", "mi", "su", "ra", "ti", "do", "ne", "ga"]
    names = sorted({"".join(rng.choice(syllables, 3)).capitalize() for _ in range(150)})
    places = [("city", "la ciudad"), ("mountain", "el monte"), ("river", "el río"), ("temple", "el templo")]
    verbs = [("sees", "ve"), ("builds", "edifica"), ("loves", "ama"), ("leaves", "deja")]
    lines = []
    for i in range(n):
        name = names[rng.integers(len(names))]
        (place, lugar), (verb, verbo) = places[rng.integers(len(places))], verbs[rng.integers(len(verbs))]
        en, es = [(f"{name} {verb} the {place}.", f"{name} {verbo} {lugar}."),
                  (f"Does {name} see the {place}?", f"¿Ve {name} {lugar}?"),
                  (f"{name}, come to the {place}!", f"¡{name}, ven a {lugar}!")][i % 3]
        lines.append(f"{en}\t{es}\tCC-BY 2.0 (France) Attribution: tatoeba.org #{i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def fake_pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A toy pairs file used instead of the Bible by the translation experiments via DIVELAB_PAIRS."""
    path = write_fake_pairs(tmp_path / "pairs.txt")
    monkeypatch.setenv("DIVELAB_PAIRS", str(path))
    return path


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs write under the test's temporary directory; no stray downloads or cache use."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
