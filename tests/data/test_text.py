import importlib.util
import re
import sys
from pathlib import Path

import pytest

from divelab.data import text as tx
from divelab.data.text import TextError, clean_osis, load_corpus, split_text
from divelab.errors import UserError

SWORD = Path("/usr/share/sword/mods.d")


def installed(module: str) -> bool:
    confs = {p.name.lower() for p in SWORD.glob("*.conf")}
    return importlib.util.find_spec("pysword") is not None and f"{module.lower()}.conf" in confs


def needs(module: str):
    package = tx.PACKAGES[module]
    return pytest.mark.skipif(not installed(module),
                              reason=f"needs pysword and the Debian package {package} (module {module})")


# ---- the markup cleaner on hand-written OSIS ---------------------------------------------------

NOTE = '<note placement="foot"><reference type="annotateRef">1:1 </reference>Hebrew “אֱלֹהִים”.</note>'


@pytest.mark.parametrize(("markup", "plain"), [
    # a footnote between two words leaves one space, before punctuation none
    (f'<w lemma="strong:H0430">God</w>{NOTE}<w lemma="strong:H1254">created</w> the', "God created the"),
    (f"conceived,{NOTE}and gave birth", "conceived, and gave birth"),
    (f"twenty gerahs{NOTE}); half a shekel", "twenty gerahs); half a shekel"),
    (f"the Omega{NOTE}.", "the Omega."),
    (f"and said,{NOTE}“A forest", "and said, “A forest"),
    (f"He said{NOTE} to them", "He said to them"),
    # inline marks go without a trace, the divine name stays
    ('the <divineName><w lemma="strong:H3068">LORD</w></divineName> said', "the LORD said"),
    ('<q marker="" who="Jesus"><w>For</w> <w>God</w></q> so', "For God so"),
    ('shall more be give</w>n.', "shall more be given."),
    # word tags back to back are two words; a tagged suffix is not
    ('<w>Yahweh</w><w>God</w> made', "Yahweh God made"),
    ('hay allí</w><transChange type="added">también</transChange><w>bdelio</w>', "hay allí también bdelio"),
    ('preguntándo<transChange type="added">le</transChange>, y', "preguntándole, y"),
    # structure marks are spaces; headings and speaker labels go with their text
    ('rooms.<l eID="a" level="2"/><lg eID="b"/> <speaker>Friends</speaker> <lg sID="c"/>We will',
     "rooms. We will"),
    ('<title type="x-gen">The Creation</title><div type="x-p" sID="p1"/>In the', "In the"),
    ('<title canonical="true" type="psalm">A Psalm by David.</title> <lg sID="x"/>Yahweh, how',
     "A Psalm by David. Yahweh, how"),
    ('<milestone type="x-extra-p"/>Now<lb type="x-p"/>it came', "Now it came"),
    # KJV leftovers: pilcrows, a stray USFM marker; entities; whitespace
    ("¶ For God  so\n loved", "For God so loved"),
    ("name \\nd <w>JEHOVAH</w></divineName> was", "name JEHOVAH was"),
    ("bread &amp; wine", "bread & wine"),
    ('<div type="x-milestone" subType="x-preverse" sID="pv1"/> <chapter eID="Gen.1"/>', ""),
])
def test_clean_osis_makes_plain_sentences(markup, plain):
    assert clean_osis(markup) == plain


def test_clean_osis_drops_what_follows_the_end_of_a_book():
    markup = ('Amen.<div canonical="true" eID="g1" osisID="Rev" type="book"/> <div sID="g2" type="glossary"/>'
              '<title level="1" type="main">Glossary</title> Abba is Aramaic for father.')
    assert clean_osis(markup) == "Amen."


# ---- the installed Bibles -----------------------------------------------------------------------

EXPECTED = {
    "engWEB2015eb": {
        ("Gen", 1, 1): "In the beginning, God created the heavens and the earth.",
        ("John", 3, 16): "For God so loved the world, that he gave his only born Son, that whoever believes "
                         "in him should not perish, but have eternal life.",
    },
    "engKJV2006eb": {
        ("Gen", 1, 1): "In the beginning God created the heaven and the earth.",
        ("John", 3, 16): "For God so loved the world, that he gave his only begotten Son, that whosoever "
                         "believeth in him should not perish, but have everlasting life.",
    },
    "spaRV1909eb": {
        ("Gen", 1, 1): "EN el principio crió Dios los cielos y la tierra.",
        ("John", 3, 16): "Porque de tal manera amó Dios al mundo, que ha dado á su Hijo unigénito, para que "
                         "todo aquel que en él cree, no se pierda, mas tenga vida eterna.",
    },
}


@pytest.mark.parametrize("module", [pytest.param(m, marks=needs(m)) for m in sorted(EXPECTED)])
def test_installed_bibles_read_as_plain_sentences(module):
    verses = tx.bible_verses(module, books=["John", "Gen"])
    assert [v.book for v in verses[:1] + verses[-1:]] == ["Gen", "John"]  # canonical order
    by_ref = {(v.book, v.chapter, v.verse): v.text for v in verses}
    for ref, text in EXPECTED[module].items():
        assert by_ref[ref] == text
    assert len(by_ref) == len(verses) > 1500  # Genesis 1533 verses + John 879, all distinct
    assert all(v.text and "<" not in v.text and "  " not in v.text and v.text == v.text.strip() for v in verses)


def read_only(monkeypatch, books):
    """Make load_corpus read only ``books`` of a Bible (the whole one takes seconds)."""
    read = tx.bible_verses
    monkeypatch.setattr(tx, "bible_verses", lambda module: read(module, books=books))


@needs("engKJV2006eb")
def test_bible_corpus_holds_out_whole_books(monkeypatch):
    monkeypatch.setenv("DIVELAB_TEXT", "/nonexistent")  # replaces only "web"
    read_only(monkeypatch, ["Gen", "Exod", *tx.TEST_BOOKS])
    corpus = load_corpus("kjv")
    assert corpus.name == "kjv" and corpus.test_books == tx.TEST_BOOKS
    ruth_1_1 = ("Now it came to pass in the days when the judges ruled, that there was a famine in the land. "
                "And a certain man of Beth-lehem-judah went to sojourn in the country of Moab, he, and his wife, "
                "and his two sons.")
    john_3_16 = EXPECTED["engKJV2006eb"][("John", 3, 16)]
    assert corpus.test.startswith(ruth_1_1 + "\n") and f"\n{john_3_16}\n" in corpus.test
    assert john_3_16 not in corpus.train and "In the beginning God created" not in corpus.test
    assert corpus.train.startswith(EXPECTED["engKJV2006eb"][("Gen", 1, 1)] + "\n")
    assert corpus.train.count("\n") + 1 == 1533 + 1213  # a verse a line: Genesis and Exodus


@needs("engKJV2006eb")
def test_bible_corpus_needs_its_held_out_books(monkeypatch):
    read_only(monkeypatch, ["Gen", "Ruth"])
    with pytest.raises(TextError, match="lacks the held-out book"):
        load_corpus("kjv")


@needs("engWEB2015eb")
def test_unknown_book_is_an_error():
    with pytest.raises(ValueError, match="no book.*Genesis"):
        tx.bible_verses("engWEB2015eb", books=["Genesis"])


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=needs(m)) for n, m in tx.BIBLES.items()])
def test_a_whole_bible_is_clean_and_holds_out_5_to_8_percent(name, monkeypatch):
    monkeypatch.delenv("DIVELAB_TEXT", raising=False)
    corpus = load_corpus(name)
    assert 0.05 < len(corpus.test) / (len(corpus.train) + len(corpus.test)) < 0.08
    for part in (corpus.train, corpus.test):
        assert not re.search(r"[<>\\¶]|&\w+;|  |\w[.,;:!?][A-Za-z]|[a-z][A-Z]", part)  # no markup, no glued words


def test_missing_module_names_its_debian_package(tmp_path):
    pytest.importorskip("pysword", reason="the message about a missing module needs pysword")
    (tmp_path / "mods.d").mkdir()
    with pytest.raises(TextError, match=r"engWEB2015eb not found in .*apt-get install sword-text-web"):
        tx.bible_verses("engWEB2015eb", sword_dir=str(tmp_path))


def test_missing_pysword_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pysword.modules", None)  # makes the import fail
    with pytest.raises(TextError, match="pip install pysword"):
        tx.bible_verses("engKJV2006eb")


# ---- text files ---------------------------------------------------------------------------------

def test_divelab_text_replaces_the_default_bible(fake_text):
    corpus = load_corpus()
    original = fake_text.read_text(encoding="utf-8")
    assert corpus.source == str(fake_text) and corpus.test_books == ()
    assert corpus.train + "\n" + corpus.test == original  # cut at a line break, which is dropped
    assert 0.08 < len(corpus.test) / len(original) < 0.12
    assert original[len(corpus.train)] == "\n" and corpus.test.endswith("\n")


def test_a_path_is_read_as_a_text_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeffline one\r\nline two\r\nline three\r\n".encode())  # BOM and CRLF
    corpus = load_corpus(str(path))
    assert (corpus.name, corpus.train, corpus.test) == ("t.txt", "line one\nline two", "line three\n")


def test_split_text_falls_back_to_a_space_and_needs_text_on_both_sides():
    assert split_text("a b c d e f g h i j") == ("a b c d e f g h i", "j")
    assert split_text("one\ntwo") == ("one", "two")
    assert split_text("line one\nline two\n\n\n\n\n\n\n\n") == ("line one", "line two\n\n\n\n\n\n\n\n")
    assert split_text("word") is None
    assert split_text("\n\nword\n") is None


def test_a_directory_is_not_a_text_file(tmp_path):
    with pytest.raises(TextError, match="is not a file"):
        load_corpus(str(tmp_path))


def test_a_broken_divelab_text_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("DIVELAB_TEXT", str(tmp_path / "gone.txt"))
    with pytest.raises(TextError, match=r"gone.txt does not exist.*DIVELAB_TEXT; fix it or unset it"):
        load_corpus()


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist; text must be web or kjv or the path of a UTF-8 text file"),
    (b"", "is empty"),
    (b" \n\t\n", "is empty"),
    (b"caf\xe9 au lait\nencore\n", r"not UTF-8 \(byte 3"),
    (b"word", "too short to split"),
])
def test_bad_text_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TextError, match=message) as info:
        load_corpus(str(path))
    assert isinstance(info.value, UserError) and str(path) in str(info.value)
    assert "\n" not in str(info.value)
