"""Subword pieces of a language model's text that spell it back exactly (SentencePiece BPE).

A character-level model spends one step on every character; a model over subword pieces
(Sennrich et al., 2016) reads about three characters a step, so the same arithmetic covers
three times the text. To compare it with the character models it is scored per character:
the bits of all pieces of the held-out text over the characters they spell — a code for the
same text, so the figures are comparable only if the pieces lose nothing. Hence, unlike the
translation tokenizers of :mod:`divelab.data.subword`, nothing is normalised: case, spacing
and punctuation stay as written, and a line break is a piece of its own (``"\\n"``, between
lines; SentencePiece reads one line at a time). ``join(split(text)) == text`` for any text
made of characters the training text has.

The pieces are learnt from the training text only, deterministically (one thread, the lines
in order, a fixed seed), so a resumed run rebuilds the same vocabulary.
"""

from __future__ import annotations

import io
from pathlib import Path

import sentencepiece as spm

from divelab.files import atomic_write_bytes

NEWLINE = "\n"
SPACE = "▁"  # SentencePiece's mark for a space (U+2581)


class TextPieces:
    """A SentencePiece BPE model over lines, with ``"\\n"`` as the piece between lines."""

    def __init__(self, model: bytes):
        self.model = model
        self.processor = spm.SentencePieceProcessor(model_proto=model)

    @classmethod
    def train(cls, text: str, vocab_size: int) -> TextPieces:
        """Learn about ``vocab_size`` BPE pieces from the lines of ``text`` (fewer if it is too small to fill them)."""
        if vocab_size < 8:
            raise ValueError(f"vocab_size must be ≥ 8, got {vocab_size}")
        lines = [line for line in text.split(NEWLINE) if line]
        if not lines:
            raise ValueError("cannot learn pieces from an empty text")
        model = io.BytesIO()
        spm.set_random_generator_seed(0)
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size, model_type="bpe",
                hard_vocab_limit=False, character_coverage=1.0, normalization_rule_name="identity",
                remove_extra_whitespaces=False, num_threads=1, shuffle_input_sentence=False,
                input_sentence_size=0, max_sentence_length=1 << 16, bos_id=-1, eos_id=-1, pad_id=-1,
                minloglevel=2)
        except RuntimeError as exc:
            raise ValueError(f"SentencePiece could not learn {vocab_size} pieces: {exc}") from None
        return cls(model.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> TextPieces:
        """The model :meth:`save` wrote (a ValueError naming the file if it is not one)."""
        try:
            return cls(Path(path).read_bytes())
        except (OSError, RuntimeError) as exc:
            raise ValueError(f"cannot load the SentencePiece model {path} ({exc})") from None

    def save(self, path: str | Path) -> None:
        """Write the model file atomically."""
        atomic_write_bytes(Path(path), self.model)

    def pieces(self) -> list[str]:
        """Every piece of the model (``<unk>`` first), then ``"\\n"``."""
        return [self.processor.id_to_piece(i) for i in range(self.processor.get_piece_size())] + [NEWLINE]

    def split(self, text: str) -> list[str]:
        """The pieces of ``text``: each line's, with ``"\\n"`` between lines. A character the model
        lacks comes out as itself (a vocabulary built from :meth:`pieces` maps it to ``<unk>``)."""
        out: list[str] = []
        for number, line in enumerate(text.split(NEWLINE)):
            if number:
                out.append(NEWLINE)
            out += self.processor.encode(line, out_type=str)
        return out

    def join(self, pieces: list[str]) -> str:
        """The text of ``pieces``: ``▁`` read as a space, less the one SentencePiece puts before each line."""
        lines = "".join(pieces).split(NEWLINE)
        return NEWLINE.join(line.replace(SPACE, " ").removeprefix(" ") for line in lines)
