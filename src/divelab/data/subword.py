"""Tokenizers for translation: the course's word tokens and SentencePiece subwords (BPE or unigram).

Text is prepared in two steps (d2l §10.5, "Machine Translation and the Dataset"):

- :func:`clean` — Unicode NFC, non-breaking spaces (U+00A0, U+202F, as in ``fra.txt``) become
  spaces, runs of whitespace one space, optional lower-casing;
- :func:`normalize` — ``clean`` plus a space between words and punctuation marks, so that
  ``text.split()`` gives the word tokens (:func:`word_tokens`): every closing mark
  ``, . ! ? ; : ) ] } ” »``, opening mark ``¡ ¿ ( [ { “ « ‘`` (Spanish opens questions and
  exclamations: ``¿ dónde ?``) and dash ``—`` is a token of its own, and so is ``’`` unless it
  joins two parts of a word (``God’s``); a ``, . :`` between digits stays (``3:16``, ``1,000``).

:func:`detokenize` undoes the spacing — no space before a closing mark (or ``’``), none after
an opening mark, none around ``—`` — so a translation made of word tokens can be scored
(BLEU, chrF) as ordinary text: ``detokenize(word_tokens(s)) == clean(s)`` for any text written
with that usual spacing.

Every tokenizer has ``encode(text) -> tokens`` and ``decode(tokens) -> text`` (:class:`Tokenizer`):
:class:`WordTokenizer` (the course's) and :class:`SentencePieceTokenizer`, which learns subword
units from the training sentences (Sennrich et al., 2016, BPE; Kudo, 2018, unigram LM;
Kudo & Richardson, 2018, SentencePiece). Subwords spell any word — rare names included — from
a vocabulary of a few thousand pieces, where word tokens need tens of thousands and still
meet ``<unk>`` in the test set.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import sentencepiece as spm

from divelab.files import atomic_write_bytes

NUMBER_MARKS = ",.:"  # closing marks that may also join digits: 3:16, 1,000, 2.5
CLOSING = NUMBER_MARKS + "!?;)]}”»"
OPENING = "¡¿([{“«‘"
DASH = "—"
SPACE = "▁"  # SentencePiece's word-boundary mark (U+2581)
SubwordKind = Literal["bpe", "unigram"]

_MARKS = re.escape(CLOSING + OPENING + DASH + "’")
# a number with inner marks (3:16, 1,000), a word (letters, digits, other symbols; God’s keeps its ’),
# or any other single non-space character — a punctuation mark
_TOKEN = re.compile(rf"\d+(?:[{NUMBER_MARKS}]\d+)+|[^\s{_MARKS}]+(?:’[^\s{_MARKS}]+)*|\S")
_DASH = re.compile(rf"\s*{DASH}\s*")
_GLUE_BEFORE = re.compile(rf" ([{re.escape(CLOSING)}’])")
_GLUE_AFTER = re.compile(rf"([{re.escape(OPENING)}]) ")


def clean(text: str, lower: bool = True) -> str:
    """NFC, non-breaking spaces → spaces, whitespace runs → one space, stripped, lower-cased if ``lower``."""
    text = " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text.lower() if lower else text


def word_tokens(text: str, lower: bool = True) -> list[str]:
    """The course's word tokens of :func:`clean` text: words, numbers and single punctuation marks.

    ``word_tokens("¡Hola, amigo!  ¿Cómo estás?")``
    → ``['¡', 'hola', ',', 'amigo', '!', '¿', 'cómo', 'estás', '?']``.
    """
    return _TOKEN.findall(clean(text, lower))


def normalize(text: str, lower: bool = True) -> str:
    """:func:`clean`, then punctuation spaced off the words: ``" ".join(word_tokens(text, lower))``
    (so ``normalize(text).split()`` gives the word tokens, as in the course)."""
    return " ".join(word_tokens(text, lower))


def detokenize(tokens: Sequence[str]) -> str:
    """Word tokens → text: joined by spaces, then the spacing :func:`normalize` added removed."""
    text = " ".join(tokens)
    text = _GLUE_BEFORE.sub(r"\1", text)
    text = _GLUE_AFTER.sub(r"\1", text)
    return _DASH.sub(DASH, text).strip()


class Tokenizer(Protocol):
    """Text ↔ tokens. ``decode(encode(s)) == clean(s)`` for text with the usual punctuation spacing
    (whatever the vocabulary later maps to ``<unk>``); ``config()`` is enough to rebuild it
    with :func:`load_tokenizer` from the run directory; ``lower``: whether text is lower-cased."""

    lower: bool

    def encode(self, text: str) -> list[str]: ...

    def decode(self, tokens: Sequence[str]) -> str: ...

    def config(self) -> dict[str, Any]: ...


class WordTokenizer:
    """The course's word-level tokenizer: :func:`word_tokens` and :func:`detokenize`."""

    def __init__(self, lower: bool = True):
        self.lower = lower

    def encode(self, text: str) -> list[str]:
        return word_tokens(text, self.lower)

    def decode(self, tokens: Sequence[str]) -> str:
        return detokenize(tokens)

    def config(self) -> dict[str, Any]:
        return {"kind": "word", "lower": self.lower}


class SentencePieceTokenizer:
    """Subword pieces from a SentencePiece model; a piece that starts a word begins with ``▁``.

    Build it with :meth:`train` (on the training sentences only) or :meth:`load`. Text is
    :func:`clean`-ed (lower-cased if ``lower``) before it is split, so the model never sees a
    distinction the word tokenizer would not make; SentencePiece's own normalisation is off
    (``identity``) so that ``decode(encode(s)) == clean(s)`` exactly.
    """

    def __init__(self, model: bytes, path: Path, kind: SubwordKind, lower: bool = True):
        self.processor = spm.SentencePieceProcessor(model_proto=model)
        self.path, self.kind, self.lower = Path(path), kind, lower

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, model_type: SubwordKind, path: str | Path, *,
              lower: bool = True) -> SentencePieceTokenizer:
        """Learn a ``model_type`` model of about ``vocab_size`` pieces from ``texts`` and write it to ``path``.

        Deterministic: one thread, the sentences in the order given, none sampled, a fixed
        random seed — the same texts give the same model file byte for byte. ``vocab_size``
        is an upper bound: a small text that cannot fill it gets fewer pieces. Every character
        of ``texts`` is kept (coverage 1.0); one seen only in other text becomes ``<unk>``.
        """
        if model_type not in ("bpe", "unigram"):
            raise ValueError(f"model_type must be bpe or unigram, got {model_type!r}")
        if vocab_size < 8:
            raise ValueError(f"vocab_size must be ≥ 8, got {vocab_size}")
        sentences = [s for s in (clean(t, lower) for t in texts) if s]
        if not sentences:
            raise ValueError("cannot train a SentencePiece model on no text")
        model = io.BytesIO()
        spm.set_random_generator_seed(0)
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
                model_type=model_type, hard_vocab_limit=False, character_coverage=1.0,
                normalization_rule_name="identity", num_threads=1, shuffle_input_sentence=False,
                input_sentence_size=0, max_sentence_length=1 << 16, bos_id=-1, eos_id=-1, pad_id=-1,
                minloglevel=2)
        except RuntimeError as exc:
            raise ValueError(f"SentencePiece could not train a {model_type} model of {vocab_size} pieces: {exc}") \
                from None
        path = Path(path)
        atomic_write_bytes(path, model.getvalue())
        return cls(model.getvalue(), path, model_type, lower)

    @classmethod
    def load(cls, path: str | Path, kind: SubwordKind | None = None, *, lower: bool = True,
             ) -> SentencePieceTokenizer:
        """The model written by :meth:`train` (a ValueError naming the file if it is not one);
        ``lower`` as it was trained (its :meth:`config` records it). ``kind`` is read from the
        model unless given: BPE scores its pieces by minus their merge rank (whole numbers),
        unigram by log-probabilities."""
        path = Path(path)
        try:
            tokenizer = cls(path.read_bytes(), path, kind or "bpe", lower)
        except (OSError, RuntimeError) as exc:
            raise ValueError(f"cannot load the SentencePiece model {path} ({exc})") from None
        if kind is None:
            scores = [tokenizer.processor.get_score(i) for i in range(len(tokenizer))]
            tokenizer.kind = "bpe" if all(float(s).is_integer() for s in scores) else "unigram"
        return tokenizer

    def pieces(self) -> list[str]:
        """Every piece of the model, ``<unk>`` first."""
        return [self.processor.id_to_piece(i) for i in range(self.processor.get_piece_size())]

    def __len__(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, text: str) -> list[str]:
        """The pieces of ``clean(text)``; a character the model lacks comes out as itself."""
        return self.processor.encode(clean(text, self.lower), out_type=str)

    def decode(self, tokens: Sequence[str]) -> str:
        """Pieces → text: concatenated, ``▁`` read as a space (what SentencePiece's decoder does,
        also for pieces outside the model, such as ``<unk>``, which stays as written)."""
        return "".join(tokens).replace(SPACE, " ").strip()

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "lower": self.lower, "model": self.path.name}


def load_tokenizer(config: dict[str, Any], directory: str | Path) -> WordTokenizer | SentencePieceTokenizer:
    """The tokenizer that ``tokenizer.config()`` described; a subword model file is looked for in ``directory``."""
    kind = config.get("kind")
    if kind == "word":
        return WordTokenizer(lower=bool(config.get("lower", True)))
    if kind in ("bpe", "unigram"):
        return SentencePieceTokenizer.load(Path(directory) / str(config["model"]), kind,
                                           lower=bool(config.get("lower", True)))
    raise ValueError(f"unknown tokenizer kind {kind!r}; expected word, bpe or unigram")
