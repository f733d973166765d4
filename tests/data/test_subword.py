"""Normalisation, word tokens and their inverse; SentencePiece subwords (round trip, determinism, files)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divelab.data.subword import (CLOSING, OPENING, SentencePieceTokenizer, WordTokenizer, clean, detokenize,
                                  load_tokenizer, normalize, word_tokens)

TEXTS = [
    "In the beginning, God created the heavens and the earth.",
    "Jesus said, “Go.” He stretched out his hand; and it was restored whole!",
    "Can you draw out Leviathan with a fish hook, or press down his tongue with a cord?",
    "The disciples’ feet were washed (as the Lord’s word said)—and they rested.",
] * 20 + [
    "¿Dónde está el templo? ¡Ven a la ciudad, hijo mío!",
    "Y dijo Dios: Sea la luz: y fué la luz.",
    "Porque de tal manera amó Dios al mundo, que ha dado á su Hijo unigénito.",
] * 20


# ---- normalisation and word tokens --------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("¡Hola, amigo!  ¿Cómo estás?", "¡ hola , amigo ! ¿ cómo estás ?"),
    ("Va\u202f! Cours\u00a0!", "va ! cours !"),                      # fra.txt's non-breaking spaces
    ("He said: “Go.”", "he said : “ go . ”"),
    ("God’s love, the disciples’ feet.", "god’s love , the disciples ’ feet ."),
    ("John 3:16 says 1,000 and 2.5 times.", "john 3:16 says 1,000 and 2.5 times ."),
    ("work—neither (you) nor [I]", "work — neither ( you ) nor [ i ]"),
    ("wait...", "wait . . ."),
    ("  many   spaces\there\n", "many spaces here"),
])
def test_normalize_spaces_punctuation_off_the_words(text: str, expected: str) -> None:
    assert normalize(text) == expected
    assert word_tokens(text) == expected.split()


def test_lower_casing_is_optional_and_unicode_is_composed() -> None:
    assert normalize("The LORD said", lower=False) == "The LORD said"
    assert normalize("The LORD said") == "the lord said"
    assert clean("Jose\u0301") == "josé"                                # NFC: e + combining accent → é


@pytest.mark.parametrize("text", [
    "¿Dónde está? ¡Aquí!", "He said, “Go.” Then he went.", "‘Come!’ he said.",
    "The disciples’ feet—and God’s love (3:16) cost 1,000 shekels...",
])
def test_detokenize_inverts_word_tokens(text: str) -> None:
    assert detokenize(word_tokens(text, lower=False)) == text
    assert WordTokenizer(lower=False).decode(WordTokenizer(lower=False).encode(text)) == text


WORD = st.text(st.sampled_from("abcxyzñéá"), min_size=1, max_size=6)


@st.composite
def usual_text(draw: st.DrawFn) -> str:
    """Words separated by single spaces, each maybe opened and/or closed by punctuation marks."""
    words = []
    for _ in range(draw(st.integers(1, 8))):
        opening = draw(st.text(st.sampled_from(OPENING), max_size=2))
        closing = draw(st.text(st.sampled_from(CLOSING), max_size=2))
        words.append(opening + draw(WORD) + closing)
    return " ".join(words)


@settings(max_examples=100, deadline=None)
@given(usual_text())
def test_round_trip_property(text: str) -> None:
    tokens = word_tokens(text, lower=False)
    assert all(" " not in t and t for t in tokens)
    assert detokenize(tokens) == text


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_tokens_cover_every_non_space_character_once(text: str) -> None:
    assert "".join(word_tokens(text, lower=False)) == "".join(clean(text, lower=False).split())


# ---- SentencePiece -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bpe(tmp_path_factory: pytest.TempPathFactory) -> SentencePieceTokenizer:
    return SentencePieceTokenizer.train(TEXTS, 120, "bpe", tmp_path_factory.mktemp("spm") / "bpe.model")


def test_subword_round_trip_on_seen_and_unseen_text(bpe: SentencePieceTokenizer) -> None:
    assert bpe.path.is_file() and len(bpe) <= 120
    unseen = ["A brand-new sentence, never trained on!", "¿QUÉ pasó con el 7?", "  odd   spacing\u00a0here "]
    for text in TEXTS[:: 20] + unseen:
        pieces = bpe.encode(text)
        assert bpe.decode(pieces) == clean(text)
        assert pieces[0].startswith("▁")
    assert len(bpe.encode("god created the heavens")) < len("god created the heavens")  # merges happened


def test_subword_model_is_saved_loadable_and_deterministic(bpe: SentencePieceTokenizer, tmp_path) -> None:
    again = SentencePieceTokenizer.train(TEXTS, 120, "bpe", tmp_path / "again.model")
    assert again.path.read_bytes() == bpe.path.read_bytes()            # same texts → the same file
    loaded = load_tokenizer(bpe.config(), bpe.path.parent)
    assert loaded.config() == bpe.config() == {"kind": "bpe", "lower": True, "model": "bpe.model"}
    assert loaded.pieces() == bpe.pieces() and loaded.pieces()[0] == "<unk>"
    assert loaded.encode(TEXTS[-1]) == bpe.encode(TEXTS[-1])
    assert SentencePieceTokenizer.load(bpe.path).config() == bpe.config()   # the kind is read from the model


def test_unigram_differs_from_bpe_and_round_trips(bpe: SentencePieceTokenizer, tmp_path) -> None:
    unigram = SentencePieceTokenizer.train(TEXTS, 120, "unigram", tmp_path / "uni.model")
    assert unigram.config()["kind"] == "unigram"
    assert unigram.path.read_bytes() != bpe.path.read_bytes()
    assert SentencePieceTokenizer.load(unigram.path).kind == "unigram"
    for text in TEXTS[::20]:
        assert unigram.decode(unigram.encode(text)) == clean(text)


def test_subwords_come_from_the_training_text_only(bpe: SentencePieceTokenizer) -> None:
    """A word (and letter) the model never saw is not one of its pieces; it is spelled out."""
    pieces = bpe.encode("zygote smørrebrød")
    assert not any("zyg" in p or "smør" in p for p in bpe.pieces())
    assert "ø" not in bpe.pieces() and "ø" in pieces                    # an unseen letter stays itself


def test_cased_subwords_keep_case(tmp_path) -> None:
    cased = SentencePieceTokenizer.train(TEXTS, 120, "bpe", tmp_path / "cased.model", lower=False)
    assert cased.decode(cased.encode("God said, “Go.”")) == "God said, “Go.”"


def test_bad_arguments_raise_value_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="model_type"):
        SentencePieceTokenizer.train(TEXTS, 100, "wordpiece", tmp_path / "x.model")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="vocab_size"):
        SentencePieceTokenizer.train(TEXTS, 2, "bpe", tmp_path / "x.model")
    with pytest.raises(ValueError, match="no text"):
        SentencePieceTokenizer.train(["", "  "], 100, "bpe", tmp_path / "x.model")
    (tmp_path / "junk.model").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.model"):
        SentencePieceTokenizer.load(tmp_path / "junk.model", "bpe")
    with pytest.raises(ValueError, match="missing.model"):
        SentencePieceTokenizer.load(tmp_path / "missing.model", "bpe")
    with pytest.raises(ValueError, match="kind"):
        load_tokenizer({"kind": "chars"}, tmp_path)
