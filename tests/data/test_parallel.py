"""Parallel corpora: pairs files, splits, verse alignment (synthetic and the real Bibles), tensors, loaders."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.data import parallel
from divelab.data.parallel import (RESERVED, PairCorpus, PairLoader, PairsError, Preprocessing, align_verses,
                                   bible_pairs, build_arrays, load_pairs, read_pairs, split_pairs, translation_data)
from divelab.data.subword import clean
from divelab.data.text import TextError, Verse
from divelab.data.vocab import Vocab
from divelab.errors import UserError
from divelab.train.trainer import Trainer
from tests.conftest import write_fake_pairs


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    return write_fake_pairs(tmp_path / "pairs.txt")


# ---- pairs files ----------------------------------------------------------------------------------

def test_read_pairs_takes_the_first_two_columns(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes("\ufeffGo.\tVa\u202f!\tCC-BY 2.0\r\n\nHi.\tSalut !\n  \n".encode())
    assert read_pairs(path) == [("Go.", "Va\u202f!"), ("Hi.", "Salut !")]


@pytest.mark.parametrize("content, message", [
    (b"", "holds no pairs"),
    (b"\n \n", "holds no pairs"),
    (b"Go.\tVa !\nHello there\n", "line 2 has no tab"),
    (b"Go.\tVa !\n\xff\xfe\tx\n", "line 2 is not UTF-8"),
    (b"Go.\t \n", "line 1 has an empty target"),
])
def test_bad_pairs_files_are_named_with_the_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(PairsError, match=message) as info:
        read_pairs(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, UserError)


def test_missing_and_tiny_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(PairsError, match="does not exist"):
        load_pairs(str(tmp_path / "nope.txt"))
    write_fake_pairs(tmp_path / "tiny.txt", n=9)
    with pytest.raises(PairsError, match="at least 10"):
        load_pairs(str(tmp_path / "tiny.txt"))


def test_user_pairs_split_a_tenth_each_for_validation_and_test(pairs_file: Path, monkeypatch) -> None:
    corpus = load_pairs(str(pairs_file))
    assert (len(corpus.train), len(corpus.val), len(corpus.test)) == (240, 30, 30)
    assert Counter(corpus.train + corpus.val + corpus.test) == Counter(read_pairs(pairs_file))
    assert corpus.source == str(pairs_file)
    monkeypatch.setenv("DIVELAB_PAIRS", str(pairs_file))   # replaces the Bible, never an explicit file
    assert load_pairs() == corpus
    other = write_fake_pairs(pairs_file.parent / "other.txt", n=50)
    assert len(load_pairs(str(other)).test) == 5


def test_split_is_fixed_disjoint_and_complete() -> None:
    items = [(str(i), str(i)) for i in range(100)]
    train, val, test = split_pairs(items, 10, 20)
    assert (len(train), len(val), len(test)) == (70, 20, 10)
    assert sorted(train + val + test) == sorted(items)
    assert train == sorted(train, key=lambda p: int(p[0]))                 # training pairs keep their order
    torch.manual_seed(99)                                                  # the global RNG plays no part
    assert split_pairs(items, 10, 20) == (train, val, test)
    assert split_pairs(items, 10, 20, seed=1) != (train, val, test)
    with pytest.raises(ValueError, match="leave some"):
        split_pairs(items, 50, 50)


# ---- verse alignment --------------------------------------------------------------------------------

def _translation_length(rng: random.Random, n: int) -> int:
    return max(5, round(1.1 * n + rng.gauss(0, 1) * math.sqrt(n)))


def _synthetic_bibles() -> tuple[list[Verse], list[Verse]]:
    """Gen 1–4 with 30 verses each (+ 10 verses of Tobit) and a "translation" whose lengths follow
    the source's: the target adds Gen 1:31 (a gap in the source, harmless), lacks Gen 2:30, which it
    moved to the start of chapter 3 (so chapter 3 is shifted and its last verse holds two), and has
    one verse four times too long (Gen 4:10)."""
    rng = random.Random(0)
    lengths = {(c, v): rng.randint(40, 200) for c in range(1, 5) for v in range(1, 31)}
    lengths[3, 29], lengths[3, 30] = 150, 60                                # the overflow stands out
    source = [Verse("Gen", c, v, "s" * n) for (c, v), n in lengths.items()]
    source += [Verse("Tob", 1, v, "tobit") for v in range(1, 11)]
    tl = {key: _translation_length(rng, n) for key, n in lengths.items()}
    target = [Verse("Gen", 1, v, "t" * tl[1, v]) for v in range(1, 31)] + [Verse("Gen", 1, 31, "extra")]
    target += [Verse("Gen", 2, v, "t" * tl[2, v]) for v in range(1, 30)]
    chapter3 = [tl[2, 30]] + [tl[3, v] for v in range(1, 29)] + [tl[3, 29] + tl[3, 30]]
    target += [Verse("Gen", 3, v, "t" * n) for v, n in enumerate(chapter3, 1)]
    target += [Verse("Gen", 4, v, "t" * (4 * tl[4, v] if v == 10 else tl[4, v])) for v in range(1, 31)]
    return source, target


def test_alignment_drops_what_cannot_be_trusted_and_counts_why() -> None:
    source, target = _synthetic_bibles()
    pairs, stats = align_verses(source, target)
    assert stats == {"source_verses": 130, "target_verses": 120, "source_only_book": 10, "source_only_verse": 1,
                     "target_only_book": 0, "target_only_verse": 1, "renumbered": 59, "length_mismatch": 1,
                     "pairs": 59}
    kept = {(p.chapter, p.verse) for p in pairs}
    assert kept == {(1, v) for v in range(1, 31)} | {(4, v) for v in range(1, 31) if v != 10}
    assert all(p.source.startswith("s") and p.target.startswith("t") for p in pairs)
    assert [p.chapter for p in pairs] == sorted(p.chapter for p in pairs)   # canonical order


def test_an_unshifted_chapter_with_one_missing_last_verse_keeps_its_neighbour() -> None:
    """A chapter is dropped when the target lacks a verse; the next one only if it ends in an outlier."""
    source, target = _synthetic_bibles()
    target = [v for v in target if (v.chapter, v.verse) != (4, 30)]
    _, stats = align_verses(source, target)
    assert stats["renumbered"] == 59 + 29 and stats["pairs"] == 30


@pytest.fixture(scope="module")
def bible() -> tuple[list[parallel.VersePair], dict[str, int]]:
    try:
        return bible_pairs()
    except TextError as exc:
        pytest.skip(f"the SWORD Bibles are not installed ({exc})")


def test_the_real_bibles_align_verse_by_verse(bible) -> None:
    pairs, stats = bible
    assert 29_500 <= stats["pairs"] == len(pairs) <= 31_100
    assert stats["source_verses"] == sum(stats[k] for k in ("source_only_book", "source_only_verse", "renumbered",
                                                            "length_mismatch", "pairs"))
    assert stats["length_mismatch"] < 0.01 * len(pairs)
    where = {(p.book, p.chapter, p.verse): p for p in pairs}
    john = where["John", 3, 16]
    assert john.source.startswith("For God so loved the world, that he gave his only born Son")
    assert john.target.startswith("Porque de tal manera amó Dios al mundo")
    # the RV1909 numbers Jonah 1:17 as 2:1: both chapters go, the next one pairs up again
    assert not any(p.book == "Jonah" and p.chapter in (1, 2) for p in pairs)
    assert "Nínive" in where["Jonah", 3, 2].target and "Nineveh" in where["Jonah", 3, 2].source
    assert all("<" not in p.source + p.target and p.source.strip() and p.target.strip() for p in pairs)


def test_the_bible_split_is_fixed(bible, monkeypatch) -> None:
    monkeypatch.delenv("DIVELAB_PAIRS", raising=False)
    monkeypatch.setattr(parallel, "bible_pairs", lambda: bible)            # read the modules once per file
    corpus = load_pairs()
    assert (len(corpus.test), len(corpus.val)) == (1000, 1000)
    assert len(corpus.train) == len(bible[0]) - 2000
    assert Counter(corpus.train + corpus.val + corpus.test) == Counter((p.source, p.target) for p in bible[0])
    assert load_pairs() == corpus and corpus.stats == bible[1]


# ---- tensors ------------------------------------------------------------------------------------

def test_build_arrays_appends_eos_truncates_and_pads() -> None:
    vocab = Vocab("a b c a".split(), reserved=RESERVED)
    assert vocab.idx_to_token[:4] == ["<unk>", "<pad>", "<bos>", "<eos>"]
    ids, valid_len = build_arrays([["a", "b"], ["c"] * 6, [], ["zzz"]], vocab, num_steps=4)
    a, b, c, pad, eos = (vocab[t] for t in ("a", "b", "c", "<pad>", "<eos>"))
    assert ids.dtype == valid_len.dtype == torch.int64
    assert ids.tolist() == [[a, b, eos, pad], [c, c, c, c], [eos, pad, pad, pad], [0, eos, pad, pad]]
    assert valid_len.tolist() == [3, 4, 1, 2]                               # the long one lost its <eos>
    assert torch.equal(valid_len, (ids != pad).sum(1))
    with pytest.raises(ValueError, match="reserved"):
        build_arrays([["a"]], Vocab(["a"]), 4)


def _toy_corpus() -> PairCorpus:
    """Pairs whose test part holds a word and a letter (Ω) that no training pair has."""
    train = [(f"The king {w} the city.", f"El rey {v} la ciudad.") for w, v in
             [("sees", "ve"), ("loves", "ama"), ("builds", "edifica")] * 10] + [("Where?", "¿Dónde?")] * 5
    test = [("The king sees Ωmega.", "El rey ve Ωmega."),
            ("Where? The king loves the city.", "¿Dónde? El rey ama la ciudad.")]
    return PairCorpus(train, train[:3], test, "toy")


def test_translation_tensors_follow_the_course() -> None:
    data = translation_data(_toy_corpus(), "word", min_freq=2, num_steps=12, batch_size=4)
    for vocab in (data.src_vocab, data.tgt_vocab):
        assert vocab.idx_to_token[:4] == ["<unk>", "<pad>", "<bos>", "<eos>"]
    assert (data.pad, data.bos, data.eos) == (1, 2, 3)
    assert "ωmega" not in data.src_vocab and "where" in data.src_vocab        # min_freq counts training pairs only
    t = data.test
    assert t.src.shape == t.tgt_in.shape == t.tgt_out.shape == (2, 12)
    assert torch.equal(t.src_len, t.src_count + 1) and torch.equal(t.tgt_len, t.tgt_count + 1)
    assert (t.tgt_in[:, 0] == data.bos).all()
    expected_in = t.tgt_out[:, :-1].masked_fill(t.tgt_out[:, :-1] == data.eos, data.pad)
    assert torch.equal(t.tgt_in[:, 1:], expected_in)                       # teacher forcing: shifted by one
    assert t.tgt_out[0].tolist()[:6] == [data.tgt_vocab[w] for w in ["el", "rey", "ve", "ωmega", "."]] + [data.eos]
    assert t.src[0, 3].item() == 0                                          # the unseen word is <unk>
    assert data.test_src[0] == "The king sees Ωmega." and data.test_ref[1] == "¿dónde? el rey ama la ciudad."
    assert data.prep.decode_target(t.tgt_out[1]) == data.test_ref[1]
    assert data.prep.decode_target(t.tgt_out[0]) == "el rey ve <unk>."


def test_subword_data_trains_on_the_training_pairs_only(tmp_path: Path) -> None:
    data = translation_data(_toy_corpus(), "bpe", vocab_size=40, num_steps=16, directory=tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.model")) == ["spm-src.model", "spm-tgt.model"]
    tokenizer = data.prep.tgt_tokenizer
    assert not any("Ω" in p or "ω" in p for p in tokenizer.pieces())       # the test letter was never seen
    assert data.tgt_vocab["ω"] == data.tgt_vocab.unk
    assert data.prep.decode_target(data.test.tgt_out[1]) == data.test_ref[1]
    with pytest.raises(ValueError, match="directory"):
        translation_data(_toy_corpus(), "unigram")
    with pytest.raises(ValueError, match="word, bpe or unigram"):
        translation_data(_toy_corpus(), "chars", directory=tmp_path)


@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_preprocessing_is_saved_with_the_run(tmp_path: Path, kind: str) -> None:
    data = translation_data(_toy_corpus(), kind, vocab_size=40, num_steps=16, directory=tmp_path / "train")
    data.prep.save(tmp_path / "run")
    loaded = Preprocessing.load(tmp_path / "run")
    sentences = ["The king loves Ωmega!", "Where?", ""]
    for a, b in zip(loaded.encode_source(sentences), data.prep.encode_source(sentences)):
        assert torch.equal(a, b)
    assert loaded.decode_target(data.test.tgt_out[1]) == data.test_ref[1]
    (tmp_path / "run" / Preprocessing.FILE).write_text("{}")
    with pytest.raises(UserError, match="preprocessing"):
        Preprocessing.load(tmp_path / "run")


# ---- the loader -------------------------------------------------------------------------------------

def _loader_data(pairs_file: Path):
    return translation_data(load_pairs(str(pairs_file)), "word", min_freq=1, num_steps=12, batch_size=16)


def test_loader_yields_trimmed_pairs_each_once_per_epoch(pairs_file: Path) -> None:
    data = _loader_data(pairs_file)
    loader = data.train_loader
    assert loader.num_samples == 240 and len(loader) == 15
    seen = []
    for x, y in loader.batches(1):
        src, src_len, tgt_in = x
        assert src.shape[1] == src_len.max() and y.shape == tgt_in.shape and len(y) == len(src)
        assert y.shape[1] == int((y != data.pad).sum(1).max())
        seen.append(src_len)
    assert sum(len(s) for s in seen) == 240
    ordered = torch.cat([x[0][:, :1] for x, _ in PairLoader(data.train, 16).batches()])
    assert torch.equal(ordered[:, 0], data.train.src[:, 0])                 # unshuffled: the pairs in order


def test_loader_order_is_resumable_and_bucketed(pairs_file: Path) -> None:
    data = _loader_data(pairs_file)
    loader = data.train_loader
    full = [idx.tolist() for idx in loader.batch_indices(2)]
    assert sorted(i for b in full for i in b) == list(range(240))
    assert full != [idx.tolist() for idx in loader.batch_indices(3)]
    tail = [y for _, y in loader.batches(2, start=5)]
    assert len(tail) == 10 and torch.equal(tail[0], list(loader.batches(2))[5][1])
    lengths = data.train.tgt_len

    def spread(batches: list[torch.Tensor]) -> float:
        return sum((lengths[b].max() - lengths[b].min()).item() for b in batches) / len(batches)

    plain = PairLoader(data.train, 16, shuffle=True, seed=0)
    assert spread(loader.batch_indices(2)) < spread(plain.batch_indices(2))  # similar lengths share a batch


def test_loader_drives_the_trainer(pairs_file: Path) -> None:
    """The Trainer's model(x) / loss_fn(out, y) contract, with a target-bigram model taking the triple."""
    data = _loader_data(pairs_file)

    class Bigram(nn.Module):
        def __init__(self, vocab_size: int):
            super().__init__()
            self.embed, self.out = nn.Embedding(vocab_size, 16), nn.Linear(16, vocab_size)

        def forward(self, x: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
            return self.out(self.embed(x[2]))                               # (B, T, V) from tgt_in

    def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.transpose(1, 2), y, ignore_index=data.pad)

    torch.manual_seed(0)
    model = Bigram(len(data.tgt_vocab))
    trainer = Trainer(model, loss_fn, torch.optim.Adam(model.parameters(), lr=0.05), data.train_loader,
                      data.test_loader, epochs=2, val_loader=data.val_loader, classification=False, progress=False)
    history = trainer.fit()
    assert [r["epoch"] for r in history] == [1, 2]
    assert history[-1]["train_loss"] < history[0]["train_loss"] < math.log(len(data.tgt_vocab)) + 1
    assert all(math.isfinite(r["test_loss"]) and math.isfinite(r["val_loss"]) for r in history)


def test_reference_is_clean_text(pairs_file: Path) -> None:
    data = _loader_data(pairs_file)
    corpus = load_pairs(str(pairs_file))
    assert data.test_ref == [clean(t) for _, t in corpus.test]
    assert data.test_src == [s for s, _ in corpus.test]
