"""Subword pieces for language models: they spell the text back exactly, deterministically, from a file."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divelab.data.text_pieces import NEWLINE, TextPieces

TEXT = "\n".join([
    "In the beginning, God created the heavens and the earth.",
    "The earth was formless and empty. Darkness was on the surface of the deep.",
    "God said, “Let there be light,” and there was light.",
    "God saw the light, and saw that it was good; he divided the light from the darkness!",
] * 30)


@pytest.fixture(scope="module")
def pieces() -> TextPieces:
    return TextPieces.train(TEXT, 96)


@pytest.mark.parametrize("text", [
    TEXT, "", NEWLINE, "\n\nGod saw.\n", "  two  spaces ", " leading", "trailing ", "x", "Light\n light",
])
def test_split_then_join_gives_the_text_back(pieces: TextPieces, text: str) -> None:
    assert pieces.join(pieces.split(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=sorted(set(TEXT)), max_size=80))
def test_any_text_of_the_training_characters_comes_back(pieces: TextPieces, text: str) -> None:
    assert pieces.join(pieces.split(text)) == text


def test_line_breaks_are_pieces_of_their_own_and_pieces_are_longer_than_characters(pieces: TextPieces) -> None:
    tokens = pieces.split(TEXT)
    assert tokens.count(NEWLINE) == TEXT.count(NEWLINE)
    assert all(NEWLINE not in t for t in tokens if t != NEWLINE)
    assert len(tokens) < len(TEXT) / 2                  # 96 pieces cover this repetitive text in fewer steps
    assert set(tokens) <= set(pieces.pieces())
    assert pieces.pieces()[0] == "<unk>" and pieces.pieces()[-1] == NEWLINE


def test_a_character_the_training_text_lacks_comes_out_as_itself(pieces: TextPieces) -> None:
    tokens = pieces.split("God ☃ saw")
    assert "☃" in tokens and "☃" not in pieces.pieces()
    assert pieces.join(tokens) == "God ☃ saw"


def test_learning_is_deterministic_and_a_saved_model_loads(pieces: TextPieces, tmp_path) -> None:
    assert TextPieces.train(TEXT, 96).model == pieces.model
    pieces.save(tmp_path / "pieces.model")
    loaded = TextPieces.load(tmp_path / "pieces.model")
    assert loaded.pieces() == pieces.pieces() and loaded.split(TEXT) == pieces.split(TEXT)


def test_bad_inputs_are_rejected_by_name(tmp_path) -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        TextPieces.train(TEXT, 4)
    with pytest.raises(ValueError, match="empty"):
        TextPieces.train("\n\n", 64)
    (tmp_path / "bad.model").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.model"):
        TextPieces.load(tmp_path / "bad.model")
