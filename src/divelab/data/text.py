"""Text corpora for language models: two English Bibles, or any UTF-8 text file.

The Bibles are SWORD modules installed by Debian packages and read with ``pysword``:

- ``web``: ``engWEB2015eb`` from ``sword-text-web`` — the World English Bible (2020 text),
  modern English, 81 books (with the deuterocanon); 37,457 verses, 4.8 M characters;
- ``kjv``: ``engKJV2006eb`` from ``sword-text-kjv`` — the King James Version (1769), 66
  books; 31,102 verses, 4.1 M characters;
- (for issue 7) ``spaRV1909eb`` from ``sword-text-sparv`` — the Spanish Reina-Valera 1909.

Verses come out as plain sentences (:func:`clean_osis`): footnotes, cross-references,
section headings and speaker labels are dropped with their text; word tags, divine names
and the other inline marks are dropped around their text; structural marks (paragraphs,
poetry lines, milestones) become spaces. Psalm superscriptions are canonical text and are
kept ("A Psalm by David, …" begins Psalm 3:1).

Held-out split: the test text is the whole books :data:`TEST_BOOKS` — Ruth, Proverbs,
Ecclesiastes and Jonah from the Old Testament, John, Galatians and James from the New: a
story, wisdom, a prophet's tale, a gospel, two letters, about 5 % (WEB) and 6 % (KJV) of
the characters. They were chosen for having few near-copies elsewhere (not Mark, which
Matthew and Luke largely repeat, nor Kings, which Chronicles retells), so the test text is
unseen. The training text is every other book of the module. Verses are joined by
``"\\n"``, books in canonical order: a Bible corpus is a text with one verse per line.

``$DIVELAB_TEXT``, if set, names a text file used instead of the default ``"web"`` (tests
use it to avoid reading the Bible, as ``$DIVELAB_DATA`` stands in for Fashion-MNIST).
A text file's last ~10 % (cut at the line break nearest to 90 % of its length) is its
test text.
"""

from __future__ import annotations

import functools
import html
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from divelab.errors import DataError

BIBLES = {"web": "engWEB2015eb", "kjv": "engKJV2006eb"}
PACKAGES = {"engWEB2015eb": "sword-text-web", "engKJV2006eb": "sword-text-kjv", "spaRV1909eb": "sword-text-sparv"}
TEST_BOOKS: tuple[str, ...] = ("Ruth", "Prov", "Eccl", "Jonah", "John", "Gal", "Jas")  # OSIS book ids
SWORD_DIRS = (Path("/usr/share/sword"), Path.home() / ".sword")
TEST_FRACTION = 0.1  # share of a text file held out for testing


class TextError(DataError):
    """A corpus that cannot be read: a missing package or module, a missing or broken file."""


class Verse(NamedTuple):
    """One verse: OSIS book id (``"Gen"``, ``"John"``), chapter and verse numbers, plain text."""

    book: str
    chapter: int
    verse: int
    text: str


@dataclass(frozen=True)
class Corpus:
    """A text split into training and held-out test text; ``source`` says where it came from."""

    name: str
    train: str
    test: str
    test_books: tuple[str, ...]
    source: str


# ---- OSIS markup → plain text -------------------------------------------------------------

_NOTE = "\x00"  # stands where a dropped element was, until we know whether a space belongs there
# elements dropped with their content: footnotes, cross-references, headings, speaker labels
_DROPPED = re.compile(r"<(note|title|speaker|rdg|catchWord|figure|index)\b[^>]*>.*?</\1\s*>", re.S)
_CANONICAL_TITLE = re.compile(r'<title\b[^>]*\bcanonical="true"[^>]*>(.*?)</title\s*>', re.S)
_BOOK_END = re.compile(r'<div\b(?=[^>]*\btype="book")(?=[^>]*\beID=)[^>]*/>')
_BLOCK = re.compile(r"<[^<>]*/>|</?(?:p|l|lg|item|list|div|chapter|head|table|row|cell)\b[^<>]*>")
_INLINE = re.compile(r"<[^<>]*>")
_WORD_TAG = re.compile(r"<w\b[^<>]*>")  # half the markup: stripped first, and fast, to spare the general passes
# two word tags back to back are two words (RV1909: `allí</w><transChange>también`), unless
# the second one is a suffix (RV1909: `preguntándo<transChange>le`, no closing tag before it)
_WORD_SEAM = re.compile(r"</(?:w|transChange)\s*>(?=<(?:w|transChange)\b)")
_USFM = re.compile(r"\\\+?[a-z]+\d?\*?")  # a stray USFM marker (`\nd`) left in some KJV verses
# a dropped element is a word break only before a word or an opening mark
_NOTE_BEFORE_WORD = re.compile(_NOTE + r"+(?=[\w“‘(\[])")


def clean_osis(text: str) -> str:
    """Plain text of one verse of OSIS markup, without gluing words together.

    A footnote between two words (``God<note>…</note>created``) leaves one space; one
    before punctuation (``gerahs<note>…</note>);``) leaves none. The pilcrow ¶ that marks
    paragraphs in the KJV goes too; entities are decoded, runs of whitespace become one
    space.
    """
    if 'type="book"' in text:  # after the last verse of Revelation the WEB appends its glossary
        end = _BOOK_END.search(text)
        text = text[:end.start()] if end else text
    if "<title" in text:
        text = _CANONICAL_TITLE.sub(r" \1 ", text)  # psalm superscriptions are scripture
    text = _DROPPED.sub(_NOTE, text)
    text = _WORD_SEAM.sub(_NOTE, text)
    text = _WORD_TAG.sub("", text).replace("</w>", "")
    text = _INLINE.sub("", _BLOCK.sub(" ", text))
    if _NOTE in text:
        text = _NOTE_BEFORE_WORD.sub(" ", text).replace(_NOTE, "")
    if "\\" in text:
        text = _USFM.sub("", text)
    text = html.unescape(text).replace("¶", " ")
    return " ".join(text.split())


# ---- SWORD modules --------------------------------------------------------------------------

def _sword_modules(module: str, sword_dir: str | None) -> Any:
    """The pysword ``SwordModules`` of the first directory whose ``mods.d`` lists ``module``."""
    try:
        from pysword.modules import SwordModules
    except ImportError:
        raise TextError("reading a Bible needs the Python package pysword: pip install pysword") from None
    dirs = [Path(sword_dir).expanduser()] if sword_dir else list(SWORD_DIRS)
    for directory in dirs:
        if (directory / "mods.d").is_dir():
            modules = SwordModules(str(directory))
            if module in modules.parse_modules():
                return modules
    package = PACKAGES.get(module)
    how = f"install it with 'apt-get install {package}'" if package else "install its SWORD module"
    where = " or ".join(str(d) for d in dirs)
    raise TextError(f"Bible module {module} not found in {where}; {how}")


def _open_bible(module: str, sword_dir: str | None) -> Any:
    bible = _sword_modules(module, sword_dir).get_bible_from_module(module)
    # pysword inflates a module's whole compressed block (a book) again for every verse it
    # reads — a minute per Bible; verses are read in order, so remembering the last block
    # makes it a fraction of a second.
    if hasattr(bible, "_decompressed_text"):
        bible._decompressed_text = functools.lru_cache(maxsize=2)(bible._decompressed_text)
    return bible


def bible_verses(module: str, sword_dir: str | None = None, *, books: Iterable[str] | None = None) -> list[Verse]:
    """Every non-empty verse of a SWORD Bible ``module`` (e.g. ``"engWEB2015eb"``) in canonical order.

    ``sword_dir`` is the SWORD library holding ``mods.d/`` (default: ``/usr/share/sword``,
    then ``~/.sword``); ``books`` (OSIS ids such as ``"Gen"``) limits the reading to those
    books, still in canonical order. Verse texts are cleaned by :func:`clean_osis`.
    """
    bible = _open_bible(module, sword_dir)
    structure = [book for section in bible.get_structure().get_books().values() for book in section]
    if books is not None:
        wanted = set(books)
        unknown = wanted - {book.osis_name for book in structure}
        if unknown:
            raise ValueError(f"Bible module {module} has no book(s) {', '.join(sorted(unknown))}")
        structure = [book for book in structure if book.osis_name in wanted]
    verses = []
    for book in structure:
        refs = [(c, v) for c, n in enumerate(book.chapter_lengths, 1) for v in range(1, n + 1)]
        raw = bible.get_iter(books=[book.name], clean=False)
        for (chapter, verse), markup in zip(refs, raw, strict=True):
            text = clean_osis(markup)
            if text:
                verses.append(Verse(book.osis_name, chapter, verse, text))
    if not verses:
        raise TextError(f"Bible module {module} holds no verse text; reinstall {PACKAGES.get(module, 'it')}")
    return verses


def _bible_corpus(name: str) -> Corpus:
    module = BIBLES[name]
    verses = bible_verses(module)
    present = {v.book for v in verses}
    missing = [b for b in TEST_BOOKS if b not in present]
    if missing:
        raise TextError(f"Bible module {module} lacks the held-out book(s) {', '.join(missing)}")
    held_out = set(TEST_BOOKS)
    train = "\n".join(v.text for v in verses if v.book not in held_out)
    test = "\n".join(v.text for v in verses if v.book in held_out)
    return Corpus(name, train, test, TEST_BOOKS, f"SWORD module {module} ({PACKAGES[module]})")


# ---- text files -----------------------------------------------------------------------------

def read_text(path: Path) -> str:
    """A UTF-8 text file (a byte-order mark is skipped, line ends become ``"\\n"``)."""
    if not path.is_file():
        raise TextError(f"text file {path} " + ("is not a file" if path.exists() else "does not exist"))
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TextError(f"text file {path} is not UTF-8 (byte {exc.start} cannot be decoded)") from None
    except OSError as exc:
        raise TextError(f"text file {path} cannot be read: {exc.strerror}") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise TextError(f"text file {path} is empty")
    return text


def split_text(text: str, test_fraction: float = TEST_FRACTION) -> tuple[str, str] | None:
    """``(train, test)``: ``text`` cut at the line break (else space) nearest to ``1 − test_fraction``
    of its length, the break itself dropped; ``None`` if no cut leaves text on both sides."""
    first = len(text) - len(text.lstrip())  # a cut must fall strictly between the first
    last = len(text.rstrip()) - 1  # and the last non-blank character
    target = min(max(round(len(text) * (1 - test_fraction)), first + 1), last - 1)
    for sep in ("\n", " "):
        cuts = [i for i in (text.rfind(sep, first + 1, target + 1), text.find(sep, target, last)) if i >= 0]
        if cuts:
            cut = min(cuts, key=lambda i: abs(i - target))
            return text[:cut], text[cut + 1:]
    return None


def _file_corpus(path: Path) -> Corpus:
    parts = split_text(read_text(path))
    if parts is None:
        raise TextError(f"text file {path} is too short to split into training and test text")
    return Corpus(path.name, parts[0], parts[1], (), str(path))


def load_corpus(text: str = "web") -> Corpus:
    """The corpus ``text``: ``"web"`` or ``"kjv"`` (a Bible, held-out books :data:`TEST_BOOKS`),
    or the path of a UTF-8 text file (its last ~10 % held out). ``$DIVELAB_TEXT`` replaces ``"web"``."""
    override = os.environ.get("DIVELAB_TEXT")
    if text == "web" and override:
        try:
            return _file_corpus(Path(override).expanduser())
        except TextError as exc:
            raise TextError(f"{exc} (named by DIVELAB_TEXT; fix it or unset it)") from None
    if text in BIBLES:
        return _bible_corpus(text)
    path = Path(text).expanduser()
    if not path.exists():
        raise TextError(f"text file {path} does not exist; text must be {' or '.join(BIBLES)} "
                        "or the path of a UTF-8 text file")
    return _file_corpus(path)
