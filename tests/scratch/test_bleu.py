"""BLEU and chrF written by hand, against sacrebleu and against counts worked out by hand.

The twin tests build 200 Spanish/English reference–hypothesis pairs from verse-like
sentences and perturb the hypotheses the way real system output differs from a reference
(deleted, swapped and replaced words, punctuation, numbers, accents, quotes, HTML
entities, tokenised spacing, empty and over-long hypotheses); corpus BLEU and chrF must
equal sacrebleu's default ``corpus_bleu`` and ``corpus_chrf`` (asked: 0.01; checked:
1e-9, since the arithmetic is the same), and :func:`tokenize_13a` must split tricky
strings exactly as sacrebleu's ``Tokenizer13a``.
"""

from __future__ import annotations

import math
import random
import unicodedata

import pytest

from divelab.scratch.bleu import corpus_bleu, corpus_chrf, sentence_bleu, tokenize_13a

sacrebleu = pytest.importorskip("sacrebleu")
from sacrebleu.metrics import BLEU  # noqa: E402
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a  # noqa: E402

SPANISH = [
    "En el principio creó Dios los cielos y la tierra.",
    "Y la tierra estaba desordenada y vacía, y las tinieblas estaban sobre la haz del abismo.",
    "Y dijo Dios: Sea la luz: y fué la luz.",
    "Y llamó Dios á la luz Día, y á las tinieblas llamó Noche.",
    "Bienaventurados los pobres en espíritu: porque de ellos es el reino de los cielos.",
    "Jehová es mi pastor; nada me faltará.",
    "Y Adam vivió ciento y treinta años, y engendró un hijo á su semejanza.",
    "Y fueron todos los días de Matusalem novecientos sesenta y nueve años; y murió.",
    "¿Quién es éste que viene de Edom, de Bosra, con vestidos bermejos?",
    "¡Oh Jerusalem, Jerusalem, que matas á los profetas!",
    "Y respondió Jesús, y díjoles: «Id, y haced saber á Juan las cosas que oís y veis».",
    "El que tiene oídos para oir, oiga.",
    "Y el número de ellos era 5,000 hombres, sin las mujeres y los niños.",
    "Pagó 30 siclos de plata, y 2.5 talentos de oro, en el año 480.",
    "Y dijo: \"No temas, porque yo estoy contigo\".",
    "Mas él respondió y dijo: Escrito está: No con solo el pan vivirá el hombre.",
    "Porque de tal manera amó Dios al mundo, que ha dado á su Hijo unigénito.",
    "Y la paz de Dios, que sobrepuja todo entendimiento, guardará vuestros corazones.",
    "Los capítulos 3-4 del libro hablan de la ley (y de los profetas).",
    "Él dijo: “Venid á mí todos los que estáis trabajados y cargados”.",
    "Aconteció en aquellos días, que salió edicto de parte de Augusto César.",
    "Y subió José de Galilea, de la ciudad de Nazaret, á Judea.",
    "Y os ruego, hermanos, que miréis los que causan disensiones y escándalos.",
    "La gracia del Señor Jesucristo sea con todos vosotros. Amén.",
    "Sí; ¿y qué diremos á esto? ¡En ninguna manera!",
    "Y edificó Noé un altar á Jehová; y tomó de todo animal limpio.",
    "Hijo mío, no te olvides de mi ley; y tu corazón guarde mis mandamientos.",
    "Y vino la palabra de Jehová á Jonás hijo de Amittai, diciendo:",
]
ENGLISH = [
    "In the beginning, God created the heavens and the earth.",
    "God said, \"Let there be light,\" and there was light.",
    "Yahweh is my shepherd; I shall lack nothing.",
    "Blessed are the poor in spirit, for theirs is the Kingdom of Heaven.",
    "He who has ears to hear, let him hear.",
    "They numbered about 5,000 men, besides women and children.",
    "The man's wife didn't answer; she'd gone to the well-known spring at 6:30.",
    "He paid 30 shekels of silver & 2.5 talents of gold (in the year 480).",
    "Jesus said to him, \u201cGo your way. Your faith has made you well.\u201d",
    "\u2018Why are you afraid?\u2019 he asked \u2014 and the wind ceased.",
    "Chapters 3-4 speak of the law/prophets [see v. 12].",
    "Now when Jesus came into the parts of Caesarea Philippi, he asked his disciples...",
]
WORDS = ["Dios", "tierra", "cielo", "hombre", "luz", "dijo", "y", "de", "la", "el", "God", "the",
         "said", "and", "of", "light", "año", "niños", "corazón", "pastor"]


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def perturb(ref: str, rng: random.Random, max_edits: int = 3) -> str:
    """A hypothesis that differs from ``ref`` by a few typical system errors."""
    words = ref.split()
    for _ in range(rng.randint(0, max_edits)):
        kind = rng.randrange(8)
        i = rng.randrange(len(words)) if words else 0
        if kind == 0 and len(words) > 1:
            del words[i]
        elif kind == 1 and i + 1 < len(words):
            words[i], words[i + 1] = words[i + 1], words[i]
        elif kind == 2 and words:
            words[i] = rng.choice(WORDS)
        elif kind == 3:
            words = [w.rstrip(".,;:!?") for w in words]
        elif kind == 4:
            words = [str(int(w) + 1) if w.isdigit() else w for w in words] + [str(rng.randint(1, 2000))]
        elif kind == 5:
            words = strip_accents(" ".join(words)).split()
        elif kind == 6:
            words = " ".join(words).replace("«", "\"").replace("»", "\"").replace("\"", "&quot;").split()
        elif kind == 7:
            words = " ".join(words).replace(",", " ,").replace(".", " .").split()
    return " ".join(words)


def corpus_pairs(n: int = 200, seed: int = 0, max_edits: int = 3) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    sentences = SPANISH + ENGLISH
    refs, hyps = [], []
    for i in range(n):
        ref = sentences[i % len(sentences)]
        if i % 50 == 7:
            hyp = ""  # the system produced nothing
        elif i % 50 == 13:
            hyp = ref + " " + rng.choice(sentences)  # longer than the reference
        elif i % 50 == 21:
            hyp = ref  # exact
        else:
            hyp = perturb(ref, rng, max_edits)
        refs.append(ref)
        hyps.append(hyp)
    return hyps, refs


SMALL_CORPORA = [
    ([""], ["Y dijo Dios."]),
    (["Dios"], [""]),
    (["", ""], ["", ""]),
    (["la luz", "y"], ["la luz", "y"]),  # no 3- and 4-grams: BLEU 0
    (["a b c d e"], ["a b c d e"]),
    (["x y z w"], ["a b c d"]),  # nothing matches
    (["a", "ab", "abc de"], ["b", "a", "abcd e"]),  # references shorter than 6 characters
    (["The cat sat.  "], ["The cat sat."]),  # trailing spaces
    (["line-\nbreak and <skipped> text"], ["linebreak and text"]),
    (["y dijo Dios á Noé-\n"], ["y dijo Dios á Noé-"]),  # stripped before "-\n" can join lines
]


@pytest.mark.twin
@pytest.mark.parametrize("seed, max_edits", [(0, 3), (1, 10)])  # light and heavy errors
def test_corpus_bleu_equals_sacrebleu_on_realistic_output(seed, max_edits):
    hyps, refs = corpus_pairs(seed=seed, max_edits=max_edits)
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert 5 < expected < 95  # a realistic, non-degenerate score
    assert corpus_bleu(hyps, refs) == pytest.approx(expected, rel=0, abs=1e-9)


@pytest.mark.twin
@pytest.mark.parametrize("seed, max_edits", [(0, 3), (1, 10)])  # light and heavy errors
def test_corpus_chrf_equals_sacrebleu_on_realistic_output(seed, max_edits):
    hyps, refs = corpus_pairs(seed=seed, max_edits=max_edits)
    expected = sacrebleu.corpus_chrf(hyps, [refs]).score
    assert 5 < expected < 95
    assert corpus_chrf(hyps, refs) == pytest.approx(expected, rel=0, abs=1e-9)


@pytest.mark.twin
def test_corpus_metrics_equal_sacrebleu_on_each_pair_alone():
    hyps, refs = corpus_pairs(n=100, seed=2)
    for hyp, ref in zip(hyps, refs):
        assert corpus_bleu([hyp], [ref]) == pytest.approx(sacrebleu.corpus_bleu([hyp], [[ref]]).score, abs=1e-9)
        assert corpus_chrf([hyp], [ref]) == pytest.approx(sacrebleu.corpus_chrf([hyp], [[ref]]).score, abs=1e-9)


@pytest.mark.twin
@pytest.mark.parametrize("hyps, refs", SMALL_CORPORA)
def test_corpus_metrics_equal_sacrebleu_on_corner_cases(hyps, refs):
    assert corpus_bleu(hyps, refs) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert corpus_chrf(hyps, refs) == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)


TRICKY = [
    "Hello, world! It's 3.5 million, or 1,000,000 -- roughly.",
    "e.g. U.S.A. and Mr. Smith's well-known 1990-2000 run; x...y",
    "&quot;quoted&quot; &amp; &lt;tag&gt; &amp;lt; &amp;amp; &nbsp;",
    "line-\nbreak, another\nline <skipped> end",
    "¿Qué pasó?¡Sí! «comillas» “curly” ‘single’ — dash",
    "$5.00 costs 50% at 10:30 a/b C++ [x] {y} (z) \\back\\slash under_score ^caret `tick` a~b|c",
    "a,b 1,b a,1 .5 5. ,5 5, 3-4 a-b -5 5- --",
    "multiple   spaces\tand\ttabs\xa0nbsp  ",
    "emoji 😀 and accents: ç é ñ ü ß",
    "http://example.com/path?x=1&y=2#frag",
    "Y dijo Dios: Sea la luz: y fué la luz.",
    "",
    "   ",
    ".,.,",
    "9.9.9 9,9,9 a.b.c",
]


@pytest.mark.twin
@pytest.mark.parametrize("text", TRICKY + SPANISH + ENGLISH)
def test_tokenize_13a_equals_sacrebleu(text):
    assert tokenize_13a(text) == Tokenizer13a()(text).split()


@pytest.mark.twin
def test_sentence_bleu_equals_sacrebleu_without_smoothing_on_given_tokens():
    # sacrebleu with tokenize="none" and smooth_method="none" on one segment is exactly the formula
    unsmoothed = BLEU(tokenize="none", smooth_method="none")
    hyps, refs = corpus_pairs(n=100, seed=3)
    for hyp, ref in zip(hyps, refs):
        h, r = tokenize_13a(hyp), tokenize_13a(ref)
        expected = unsmoothed.corpus_score([" ".join(h)], [[" ".join(r)]]).score / 100
        assert sentence_bleu(h, r) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_sentence_bleu_by_hand():
    ref = "the cat sat on the mat today".split()  # 7 tokens, "the" twice
    hyp = "the the cat sat on the".split()  # 6 tokens, "the" three times
    # p1: the×3 clipped to 2, cat, sat, on                              → 5/6
    # p2: (the the)✗ (the cat)✓ (cat sat)✓ (sat on)✓ (on the)✓          → 4/5
    # p3: (the the cat)✗ (the cat sat)✓ (cat sat on)✓ (sat on the)✓     → 3/4
    # p4: (the the cat sat)✗ (the cat sat on)✓ (cat sat on the)✓        → 2/3
    # product 5/6 · 4/5 · 3/4 · 2/3 = 1/3; BP = exp(1 − 7/6) = exp(−1/6)
    expected = math.exp(-1 / 6) * (1 / 3) ** (1 / 4)
    assert expected == pytest.approx(0.6431870, abs=1e-7)
    assert sentence_bleu(hyp, ref) == pytest.approx(expected, rel=1e-12)
    # max_n = 2: sqrt(5/6 · 4/5) · BP
    assert sentence_bleu(hyp, ref, max_n=2) == pytest.approx(math.exp(-1 / 6) * math.sqrt(4 / 6), rel=1e-12)


def test_sentence_bleu_limits():
    ref = "y dijo dios sea la luz y fue la luz".split()
    assert sentence_bleu(ref, ref) == 1.0
    assert sentence_bleu("en el principio creó".split(), ref) == 0.0  # no word in common
    assert sentence_bleu("la luz".split(), ref) == 0.0  # no 3-grams: p3 = 0
    assert sentence_bleu([], ref) == 0.0
    assert sentence_bleu(ref + ["amén"], ref) < 1.0  # longer: BP = 1, but precision < 1
    assert sentence_bleu(ref[:8], ref) == pytest.approx(math.exp(1 - 10 / 8))  # a prefix: only BP


def test_bad_corpus_arguments():
    with pytest.raises(ValueError, match="one reference per hypothesis"):
        corpus_bleu(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="empty"):
        corpus_chrf([], [])
    with pytest.raises(ValueError, match="max_n"):
        sentence_bleu(["a"], ["a"], max_n=0)


HYPS = ["the cat sat on the mat", "a dog barked"]
REFS = ["the cat sat on a mat", "the dog barked"]


@pytest.mark.parametrize("hyps, refs, message", [
    (HYPS, [REFS], r"argument 'refs' must hold one string per segment, found a list \(sacrebleu's list of "
                   r"reference streams \[refs\]\?\): pass the stream refs itself"),
    (HYPS, [[r] for r in REFS], r"argument 'refs' must hold one string per segment, found a list: corpus_bleu "
                                r"takes one reference string per hypothesis"),
    ("the cat", "the cat", r"argument 'hyps' must be a list of strings, one per segment, not a str"),
    (HYPS, iter(REFS), r"argument 'refs' must be a list of strings, one per segment, not a list_iterator"),
    ([["the", "cat"]], ["the cat"], r"argument 'hyps' must hold one string per segment, found a list$"),
])
def test_references_in_the_wrong_shape_are_type_errors_naming_the_argument(hyps, refs, message):
    with pytest.raises(TypeError, match=r"^corpus_bleu\(\): " + message):
        corpus_bleu(hyps, refs)


def test_chrf_names_itself_in_the_same_check():
    with pytest.raises(TypeError, match=r"^corpus_chrf\(\): argument 'refs'"):
        corpus_chrf(HYPS, [REFS])
    assert corpus_bleu(HYPS, REFS) == pytest.approx(BLEU().corpus_score(HYPS, [REFS]).score)
