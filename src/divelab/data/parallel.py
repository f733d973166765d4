"""Parallel corpora for machine translation, and their tensors (d2l §10.5).

The default corpus pairs the World English Bible (SWORD module ``engWEB2015eb``, Debian
package ``sword-text-web``) with the Spanish Reina-Valera 1909 (``spaRV1909eb``,
``sword-text-sparv``) verse by verse, read with :func:`divelab.data.text.bible_verses`.
:func:`align_verses` keeps a verse when both modules have it, non-empty, under the same
(book, chapter, verse), and drops, counting each reason:

- books only one module has (the WEB's deuterocanonical books);
- verses only one module has (Luke 17:36, Acts 8:37 are not in the WEB);
- *renumbered chapters*: the WEB follows the NRSVA versification, the RV1909 module the KJV
  one, but its text partly keeps the Hebrew verse division — Jonah 1:17 is its Jonah 2:1,
  Job 38:39–41 its Job 39:1–3, and the overflow is merged into the chapter's last verse — so
  a chapter in which the RV1909 lacks a verse number the WEB has is left out whole, and so
  is the next chapter when the missing verses were the last ones and that chapter ends in a
  merged, over-long verse (see below);
- *length mismatches* (Gale & Church, 1993): with ``c = Σ len_es / Σ len_en`` (characters)
  a true translation has ``len_es ≈ c · len_en`` and
  ``z = (len_es − c · len_en) / (s · √len_en)`` is about standard normal (``s²`` from the
  median of ``z²``); a pair with ``|z| >`` :data:`OUTLIER_Z` (a subscription such as "La
  segunda Epístola á los Corintios fué escrita…", a verse merged with its neighbour) is
  dropped, and so is every pair whose five-verse neighbourhood in its chapter has a median
  ``|z| >`` :data:`RUN_Z` (a run of verses shifted by one inside a chapter, as 1 Chr 21:15–30).

About 30,500 pairs remain (30,482 with WEB module 426.0 and RV1909 2.60; ``divelab run mt-data``
shows the counts). They are split once, from the fixed
:data:`SPLIT_SEED`, into 1,000 test, 1,000 validation and the rest training pairs; the
split does not depend on the run's seed, so every translation model is scored on the same
1,000 held-out verses.

Your own pairs: ``load_pairs(PATH)`` reads a UTF-8 file in the course's ``fra.txt`` format,
one pair a line, ``source<TAB>target[<TAB>anything]`` — any language pair. Its test and
validation parts are each ``min(1000, n // 10)`` pairs. ``$DIVELAB_PAIRS`` names a pairs
file used instead of the Bible (tests use it).

The tensors follow the course: a sentence's ids with ``<eos>`` appended, truncated to
``num_steps`` and padded with ``<pad>`` (:func:`build_arrays`); the decoder input is
``<bos>`` + the target tokens, the output it must predict the tokens + ``<eos>``.

One pipeline from verse alignment to batched tensors, kept in one module because each step feeds
the next and the alignment's rules for dropping verses are documented together above.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from divelab.data.loader import epoch_generator
from divelab.data.subword import (SentencePieceTokenizer, SubwordKind, Tokenizer, WordTokenizer, clean,
                                  detokenize, load_tokenizer, normalize, word_tokens)
from divelab.data.text import bible_verses
from divelab.data.vocab import Vocab
from divelab.errors import DataError
from divelab.files import atomic_write_bytes, atomic_write_json

__all__ = ["PairCorpus", "PairsError", "VersePair", "align_verses", "bible_pairs", "load_pairs", "read_pairs",
           "split_pairs", "build_arrays", "Preprocessing", "PairTensors", "PairLoader", "TranslationData",
           "translation_data", "RESERVED", "Tokenizer", "WordTokenizer", "SentencePieceTokenizer", "clean",
           "normalize", "detokenize", "word_tokens"]

SOURCE_MODULE, TARGET_MODULE = "engWEB2015eb", "spaRV1909eb"
TEST_SIZE = VAL_SIZE = 1000
SPLIT_SEED = 0
OUTLIER_Z = 4.0
RUN_Z = 2.0
RUN_WINDOW = 5
RESERVED = ("<pad>", "<bos>", "<eos>")  # after <unk> (0): <pad> = 1, <bos> = 2, <eos> = 3
Pair = tuple[str, str]


class PairsError(DataError):
    """A pairs file that cannot be used: missing, empty, not UTF-8, or a line without a tab."""


@dataclass(frozen=True)
class PairCorpus:
    """Sentence pairs ``(source, target)`` split into training, validation and test parts.

    ``source`` says where they came from; ``stats`` counts how they were obtained (for the
    Bible: verses read, pairs kept, verses dropped and why — see :func:`align_verses`).
    """

    train: list[Pair]
    val: list[Pair]
    test: list[Pair]
    source: str
    stats: dict[str, int] = field(default_factory=dict)


class VersePair(NamedTuple):
    """One aligned verse: where it is and its text in both languages."""

    book: str
    chapter: int
    verse: int
    source: str
    target: str


# ---- aligning two Bibles ------------------------------------------------------------------------

Key = tuple[str, int, int]


def _renumbered_chapters(source: list[Key], z: dict[Key, float]) -> set[tuple[str, int]]:
    """Chapters where the target lacks a verse number ``source`` has (its text was divided
    differently), and the chapter after one whose last verse it lacks, if that next chapter
    ends in a length outlier (the moved verses pushed the chapter along and its last verse
    took up the overflow: RV1909 Jonah 2:10 holds WEB Jonah 2:9–10).

    A verse number only the target has is a gap in ``source`` (the WEB leaves out Acts 8:37),
    not a shift: the rest of that chapter still pairs up. ``z`` holds the paired keys' length scores.
    """
    numbers: dict[tuple[str, int], set[int]] = {}
    for book, chapter, verse in z:
        numbers.setdefault((book, chapter), set()).add(verse)
    renumbered = set()
    for book, chapter, verse in source:
        if (book, chapter, verse) in z:
            continue
        renumbered.add((book, chapter))
        following = numbers.get((book, chapter + 1))
        if verse > max(numbers.get((book, chapter), {0})) and following:
            if abs(z[(book, chapter + 1, max(following))]) > OUTLIER_Z:
                renumbered.add((book, chapter + 1))
    return renumbered


def length_z(source_lengths: Sequence[int], target_lengths: Sequence[int]) -> list[float]:
    """Gale & Church's length score of each pair: ``z = (l_t − c·l_s) / (s·√l_s)``.

    ``c = Σ l_t / Σ l_s``; ``s² = median((l_t − c·l_s)² / l_s) / 0.4549`` (0.4549 is the median
    of a χ²₁ variable), so that ``z`` is standard normal for true translations and a few
    outliers do not inflate ``s``.
    """
    c = sum(target_lengths) / sum(source_lengths)
    scaled = [(t - c * s) / math.sqrt(s) for s, t in zip(source_lengths, target_lengths)]
    sigma = math.sqrt(statistics.median(x * x for x in scaled) / 0.4549) or 1.0
    return [x / sigma for x in scaled]


def _length_mismatches(keys: list[Key], z: list[float]) -> set[Key]:
    """Pairs with ``|z| > OUTLIER_Z``, or whose chapter-local window of RUN_WINDOW pairs has median ``|z| > RUN_Z``."""
    bad = {k for k, score in zip(keys, z) if abs(score) > OUTLIER_Z}
    half = RUN_WINDOW // 2
    start = 0
    while start < len(keys):
        end = start
        while end < len(keys) and keys[end][:2] == keys[start][:2]:
            end += 1
        for i in range(start, end):
            window = [abs(v) for v in z[max(start, i - half):min(end, i + half + 1)]]
            if statistics.median(window) > RUN_Z:
                bad.add(keys[i])
        start = end
    return bad


def align_verses(source: Sequence[Any], target: Sequence[Any]) -> tuple[list[VersePair], dict[str, int]]:
    """Verse pairs of two Bibles (sequences of :class:`divelab.data.text.Verse`), in ``source``'s order.

    Returns the pairs and counts: ``source_verses``/``target_verses`` read; per side
    ``*_only_book`` (verses in a book the other lacks) and ``*_only_verse`` (verses the other
    lacks in a shared book); ``renumbered`` and ``length_mismatch`` (pairs dropped, see the
    module docstring) and ``pairs`` kept, so that ``source_verses = source_only_book +
    source_only_verse + renumbered + length_mismatch + pairs``.
    """
    src = {(v.book, v.chapter, v.verse): v.text for v in source if v.text.strip()}
    tgt = {(v.book, v.chapter, v.verse): v.text for v in target if v.text.strip()}
    books = {k[0] for k in src} & {k[0] for k in tgt}
    stats = {"source_verses": len(src), "target_verses": len(tgt)}
    for name, mine, other in (("source", src, tgt), ("target", tgt, src)):
        stats[f"{name}_only_book"] = sum(k[0] not in books for k in mine)
        stats[f"{name}_only_verse"] = sum(k[0] in books and k not in other for k in mine)
    shared = [k for k in src if k in tgt]
    z = dict(zip(shared, length_z([len(src[k]) for k in shared], [len(tgt[k]) for k in shared]))) if shared else {}
    renumbered = _renumbered_chapters([k for k in src if k[0] in books], z)
    keys = [k for k in shared if k[:2] not in renumbered]
    stats["renumbered"] = len(shared) - len(keys)
    mismatched = _length_mismatches(keys, [z[k] for k in keys])
    stats["length_mismatch"] = len(mismatched)
    pairs = [VersePair(*k, src[k], tgt[k]) for k in keys if k not in mismatched]
    stats["pairs"] = len(pairs)
    return pairs, stats


def bible_pairs(sword_dir: str | None = None) -> tuple[list[VersePair], dict[str, int]]:
    """The WEB (English) and RV1909 (Spanish) verses aligned by :func:`align_verses` (about 3 s)."""
    return align_verses(bible_verses(SOURCE_MODULE, sword_dir), bible_verses(TARGET_MODULE, sword_dir))


# ---- pairs files and splits -----------------------------------------------------------------------

def read_pairs(path: str | Path) -> list[Pair]:
    """The pairs of a tab-separated UTF-8 file (``fra.txt`` format: ``src<TAB>tgt[<TAB>…]``).

    Blank lines are skipped; a line without a tab or with an empty side, an undecodable
    line, a missing or pair-less file raise :class:`PairsError` naming the file (and line).
    """
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PairsError(f"pairs file {path} does not exist") from None
    except OSError as exc:
        raise PairsError(f"pairs file {path} cannot be read: {exc.strerror}") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    pairs = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise PairsError(f"pairs file {path} line {number} is not UTF-8 text") from None
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise PairsError(f"pairs file {path} line {number} has no tab; expected source<TAB>target")
        src, tgt = fields[0].strip(), fields[1].strip()
        if not src or not tgt:
            raise PairsError(f"pairs file {path} line {number} has an empty {'source' if not src else 'target'}")
        pairs.append((src, tgt))
    if not pairs:
        raise PairsError(f"pairs file {path} holds no pairs")
    return pairs


def split_pairs(pairs: Sequence[Pair], test_size: int, val_size: int, seed: int = SPLIT_SEED,
                ) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """``(train, val, test)``: a permutation drawn from ``seed`` gives the first ``test_size``
    pairs to test, the next ``val_size`` to validation, the rest (in their original order) to training."""
    if test_size < 1 or val_size < 1 or test_size + val_size >= len(pairs):
        raise ValueError(f"cannot take {test_size} test and {val_size} validation pairs from {len(pairs)} "
                         "and leave some for training")
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
    test_idx, val_idx = order[:test_size], order[test_size:test_size + val_size]
    train_idx = sorted(order[test_size + val_size:])
    return ([pairs[i] for i in train_idx], [pairs[i] for i in val_idx], [pairs[i] for i in test_idx])


def _file_corpus(path: Path) -> PairCorpus:
    pairs = read_pairs(path)
    held_out = min(TEST_SIZE, len(pairs) // 10)
    if held_out < 1:
        raise PairsError(f"pairs file {path} holds {len(pairs)} pairs; at least 10 are needed "
                         "(a tenth each for validation and test)")
    train, val, test = split_pairs(pairs, held_out, held_out)
    return PairCorpus(train, val, test, str(path), {"pairs": len(pairs)})


def load_pairs(pairs: str = "bible") -> PairCorpus:
    """``"bible"`` (English→Spanish verses; ``$DIVELAB_PAIRS`` replaces it) or a pairs file path."""
    override = os.environ.get("DIVELAB_PAIRS")
    if pairs == "bible" and override:
        return _file_corpus(Path(override).expanduser())
    if pairs != "bible":
        return _file_corpus(Path(pairs).expanduser())
    verses, stats = bible_pairs()
    if len(verses) <= TEST_SIZE + VAL_SIZE:
        raise DataError(f"only {len(verses)} verse pairs could be aligned; "
                        "reinstall sword-text-web and sword-text-sparv")
    train, val, test = split_pairs([(v.source, v.target) for v in verses], TEST_SIZE, VAL_SIZE)
    return PairCorpus(train, val, test, f"SWORD {SOURCE_MODULE} → {TARGET_MODULE} (verse-aligned)", stats)


# ---- tensors -------------------------------------------------------------------------------------

def build_arrays(token_lists: Sequence[Sequence[str]], vocab: Vocab, num_steps: int) -> tuple[Tensor, Tensor]:
    """``(ids (N, num_steps), valid_len (N,))``, int64: each token list + ``<eos>``, truncated to
    ``num_steps`` (the ``<eos>`` of a longer sentence is cut off, as in the course), padded with ``<pad>``."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be ≥ 1, got {num_steps}")
    if "<pad>" not in vocab or "<eos>" not in vocab:
        raise ValueError("the vocabulary needs the reserved tokens <pad> and <eos>")
    rows = [[*tokens, "<eos>"][:num_steps] for tokens in token_lists]
    valid_len = torch.tensor([len(r) for r in rows], dtype=torch.int64)
    ids = torch.full((len(rows), num_steps), vocab["<pad>"], dtype=torch.int64)
    mask = torch.arange(num_steps) < valid_len[:, None]            # (N, num_steps), row-major = token order
    ids[mask] = vocab.encode(t for r in rows for t in r)
    return ids, valid_len


@dataclass
class PairTensors:
    """One split as tensors, all int64: ``src`` (N, T) with ``src_len`` (N,); the decoder input
    ``tgt_in`` (N, T) = ``<bos>`` + target tokens, its output ``tgt_out`` (N, T) = target tokens +
    ``<eos>``, ``tgt_len`` (N,) their valid length; ``<pad>`` fills every row past its length.
    ``src_count``/``tgt_count`` (N,): each sentence's number of tokens before ``<eos>`` and
    truncation (for statistics; a sentence was cut if its count + 1 > T)."""

    src: Tensor
    src_len: Tensor
    tgt_in: Tensor
    tgt_out: Tensor
    tgt_len: Tensor
    src_count: Tensor | None = None
    tgt_count: Tensor | None = None

    def tensors(self) -> tuple[Tensor, ...]:
        return (self.src, self.src_len, self.tgt_in, self.tgt_out, self.tgt_len)

    def __len__(self) -> int:
        return len(self.src)


@dataclass
class Preprocessing:
    """Text ↔ ids for one translation direction: tokenizers, vocabularies, ``num_steps``.

    Both vocabularies reserve ``<unk> <pad> <bos> <eos>`` as ids 0–3, so :attr:`pad`,
    :attr:`bos` and :attr:`eos` serve either side. :meth:`save` writes ``preprocessing.json``
    (and the subword models) to a run directory, :meth:`load` reads them back for translating.
    """

    src_tokenizer: Tokenizer
    tgt_tokenizer: Tokenizer
    src_vocab: Vocab
    tgt_vocab: Vocab
    num_steps: int

    FILE = "preprocessing.json"

    @property
    def pad(self) -> int:
        return self.tgt_vocab["<pad>"]

    @property
    def bos(self) -> int:
        return self.tgt_vocab["<bos>"]

    @property
    def eos(self) -> int:
        return self.tgt_vocab["<eos>"]

    def encode_source(self, sentences: Sequence[str]) -> tuple[Tensor, Tensor]:
        """``(src (N, num_steps), src_len (N,))`` of raw source sentences."""
        return build_arrays([self.src_tokenizer.encode(s) for s in sentences], self.src_vocab, self.num_steps)

    def encode_target(self, sentences: Sequence[str]) -> tuple[Tensor, Tensor, Tensor]:
        """``(tgt_in, tgt_out, tgt_len)`` of raw target sentences (teacher forcing: ``tgt_in`` is
        ``tgt_out`` shifted right by one, starting with ``<bos>``, without the ``<eos>``)."""
        return self.target_arrays([self.tgt_tokenizer.encode(s) for s in sentences])

    def target_arrays(self, token_lists: Sequence[Sequence[str]]) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`encode_target` of sentences already split into tokens."""
        tgt_out, tgt_len = build_arrays(token_lists, self.tgt_vocab, self.num_steps)
        shifted = tgt_out[:, :-1].masked_fill(tgt_out[:, :-1] == self.eos, self.pad)
        tgt_in = torch.cat([torch.full((len(tgt_out), 1), self.bos, dtype=torch.int64), shifted], dim=1)
        return tgt_in, tgt_out, tgt_len

    def decode_target(self, ids: Sequence[int] | Tensor) -> str:
        """Detokenised text of target ids: read up to the first ``<eos>``, ``<pad>``/``<bos>`` skipped."""
        values = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        if self.eos in values:
            values = values[:values.index(self.eos)]
        tokens = self.tgt_vocab.decode([i for i in values if i not in (self.pad, self.bos)])
        return self.tgt_tokenizer.decode(tokens)

    def reference(self, sentence: str) -> str:
        """A target sentence as a perfect translation would read after :meth:`decode_target`:
        :func:`clean`-ed, lower-cased if the tokenizer lower-cases (BLEU is then case-blind)."""
        return clean(sentence, self.tgt_tokenizer.lower)

    def save(self, directory: str | Path) -> None:
        """Write ``preprocessing.json`` (vocabularies, tokenizer settings) and any subword model
        not already in ``directory``."""
        directory = Path(directory)
        for tokenizer in (self.src_tokenizer, self.tgt_tokenizer):
            path = getattr(tokenizer, "path", None)
            if path is not None and Path(path).resolve() != (directory / Path(path).name).resolve():
                atomic_write_bytes(directory / Path(path).name, Path(path).read_bytes())
        atomic_write_json(directory / self.FILE, {
            "src_tokenizer": self.src_tokenizer.config(), "tgt_tokenizer": self.tgt_tokenizer.config(),
            "src_vocab": self.src_vocab.state_dict(), "tgt_vocab": self.tgt_vocab.state_dict(),
            "num_steps": self.num_steps})

    @classmethod
    def load(cls, directory: str | Path) -> Preprocessing:
        """What :meth:`save` wrote (a :class:`~divelab.errors.DataError` naming the file if it is unusable)."""
        path = Path(directory) / cls.FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            return cls(load_tokenizer(state["src_tokenizer"], directory),
                       load_tokenizer(state["tgt_tokenizer"], directory),
                       Vocab.from_state_dict(state["src_vocab"]), Vocab.from_state_dict(state["tgt_vocab"]),
                       int(state["num_steps"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"cannot read the preprocessing of {directory} from {path} ({exc})") from None


class PairLoader:
    """Minibatches of sentence pairs for :class:`~divelab.train.trainer.Trainer`.

    Yields ``(x, y)`` with ``x = (src, src_len, tgt_in)`` and ``y = tgt_out``, so the
    Trainer's ``model(x)`` and ``loss_fn(out, y)`` work for a model wrapped to take the
    triple; ``len(y)`` is the number of pairs. Same interface as
    :class:`~divelab.data.loader.TensorLoader` (``tensors``, ``num_samples``, ``__len__``,
    ``batches(epoch, start)``); the order of epoch ``e`` depends only on ``(seed, e)``.

    ``bucket`` (> 0, with ``shuffle``): the shuffled pairs are taken in pools of
    ``bucket · batch_size``, sorted by target length within each pool and cut into batches,
    and the batches are shuffled — pairs of similar length share a batch, so little of it is
    padding. ``trim``: each batch is cut to its longest source and target (a sync per batch).
    """

    def __init__(self, data: PairTensors, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 device: torch.device | str | None = None, bucket: int = 0, trim: bool = True):
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        if bucket < 0:
            raise ValueError(f"bucket must be ≥ 0, got {bucket}")
        self.tensors = tuple(t.to(device) if device is not None else t for t in data.tensors())
        self.batch_size, self.shuffle, self.seed, self.bucket, self.trim = batch_size, shuffle, seed, bucket, trim

    @property
    def num_samples(self) -> int:
        return len(self.tensors[0])

    def __len__(self) -> int:
        return -(-self.num_samples // self.batch_size)

    def batch_indices(self, epoch: int) -> list[Tensor]:
        """The pair indices of each batch of ``epoch``, in the order they are visited."""
        n, size = self.num_samples, self.batch_size
        if not self.shuffle:
            return list(torch.arange(n).split(size))
        generator = epoch_generator(self.seed, epoch)
        order = torch.randperm(n, generator=generator)
        if not self.bucket:
            return list(order.split(size))
        lengths = self.tensors[4].cpu()
        batches = []
        for pool in order.split(size * self.bucket):
            by_length = pool[torch.argsort(lengths[pool], stable=True)]
            batches.extend(by_length.split(size))
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[tuple[tuple[Tensor, Tensor, Tensor], Tensor]]:
        """The batches of ``epoch`` from batch number ``start`` on, as ``((src, src_len, tgt_in), tgt_out)``."""
        device = self.tensors[0].device
        for idx in self.batch_indices(epoch)[start:]:
            src, src_len, tgt_in, tgt_out, tgt_len = (t[idx.to(device)] for t in self.tensors)
            if self.trim:
                s, t = int(src_len.max()), int(tgt_len.max())
                src, tgt_in, tgt_out = src[:, :s], tgt_in[:, :t], tgt_out[:, :t]
            yield (src, src_len, tgt_in), tgt_out

    def __iter__(self) -> Iterator[tuple[tuple[Tensor, Tensor, Tensor], Tensor]]:
        return self.batches()


@dataclass
class TranslationData:
    """Everything a translation experiment needs: the preprocessing, each split's tensors and
    loader (training shuffled and length-bucketed), the test sentences as text — ``test_src``
    as read, ``test_ref`` as :meth:`Preprocessing.reference` — and where the pairs came from."""

    prep: Preprocessing
    train: PairTensors
    val: PairTensors
    test: PairTensors
    train_loader: PairLoader
    val_loader: PairLoader
    test_loader: PairLoader
    test_src: list[str]
    test_ref: list[str]
    source: str

    @property
    def src_vocab(self) -> Vocab:
        return self.prep.src_vocab

    @property
    def tgt_vocab(self) -> Vocab:
        return self.prep.tgt_vocab

    @property
    def pad(self) -> int:
        return self.prep.pad

    @property
    def bos(self) -> int:
        return self.prep.bos

    @property
    def eos(self) -> int:
        return self.prep.eos


def _counts(token_lists: Sequence[Sequence[str]]) -> Tensor:
    return torch.tensor([len(tokens) for tokens in token_lists], dtype=torch.int64)


def make_tokenizers(train: Sequence[Pair], kind: str, vocab_size: int, directory: str | Path | None,
                    lower: bool = True) -> tuple[Tokenizer, Tokenizer]:
    """Source and target tokenizers: ``word``, or SentencePiece ``bpe``/``unigram`` models of
    ``vocab_size`` pieces per language, trained on the training pairs only and written to
    ``directory`` as ``spm-src.model`` and ``spm-tgt.model``."""
    if kind == "word":
        return WordTokenizer(lower), WordTokenizer(lower)
    if kind not in ("bpe", "unigram"):
        raise ValueError(f"tokenizer must be word, bpe or unigram, got {kind!r}")
    if directory is None:
        raise ValueError("a subword tokenizer needs a directory (the run directory) for its model files")
    subword: SubwordKind = "bpe" if kind == "bpe" else "unigram"
    directory = Path(directory)
    src = SentencePieceTokenizer.train([s for s, _ in train], vocab_size, subword, directory / "spm-src.model",
                                       lower=lower)
    tgt = SentencePieceTokenizer.train([t for _, t in train], vocab_size, subword, directory / "spm-tgt.model",
                                       lower=lower)
    return src, tgt


def translation_data(corpus: PairCorpus, tokenizer: str = "word", vocab_size: int = 8000, min_freq: int = 2,
                     num_steps: int = 64, batch_size: int = 64, seed: int = 0,
                     device: torch.device | str | None = None, *, lower: bool = True,
                     directory: str | Path | None = None, bucket: int = 50) -> TranslationData:
    """Tokenizers, vocabularies, tensors and loaders for ``corpus`` (see the module docstring).

    Vocabularies come from the training pairs only: word tokens seen at least ``min_freq``
    times (rarer ones are ``<unk>``), or every subword piece of the training text
    (``min_freq`` does not apply). ``seed`` shuffles the training batches; the split
    itself is the corpus's.
    """
    src_tok, tgt_tok = make_tokenizers(corpus.train, tokenizer, vocab_size, directory, lower)
    tokens = [([src_tok.encode(s) for s, _ in pairs], [tgt_tok.encode(t) for _, t in pairs])
              for pairs in (corpus.train, corpus.val, corpus.test)]   # (source, target) token lists per split
    vocab_min = min_freq if tokenizer == "word" else 1
    vocabs = [Vocab((t for sentence in tokens[0][side] for t in sentence), vocab_min, RESERVED)
              for side in (0, 1)]
    prep = Preprocessing(src_tok, tgt_tok, vocabs[0], vocabs[1], num_steps)
    splits = [PairTensors(*build_arrays(src, prep.src_vocab, num_steps), *prep.target_arrays(tgt),
                          _counts(src), _counts(tgt)) for src, tgt in tokens]
    loaders = [PairLoader(splits[0], batch_size, shuffle=True, seed=seed, device=device, bucket=bucket),
               PairLoader(splits[1], batch_size, device=device), PairLoader(splits[2], batch_size, device=device)]
    return TranslationData(prep, *splits, *loaders, [p[0] for p in corpus.test],
                           [prep.reference(p[1]) for p in corpus.test], corpus.source)
