"""BLEU and chrF, written by hand: the course's sentence BLEU and sacrebleu's corpus metrics.

* :func:`sentence_bleu` — the catalog's formula on token lists (Papineni et al., 2002):
  ``BLEU = BP · (Π_{n=1..N} p_n)^{1/N}``, ``BP = min(1, exp(1 − len_ref/len_hyp))``.
* :func:`corpus_bleu` — BLEU over a corpus on detokenised text as sacrebleu computes it by
  default (13a tokenisation, corpus-level n-gram counts, "exp" smoothing), on a 0–100 scale.
* :func:`corpus_chrf` — chrF (Popović, 2015) as sacrebleu computes it by default
  (character n-grams up to 6, β = 2, whitespace removed).

Twin: ``sacrebleu.corpus_bleu(hyps, [refs]).score``, ``sacrebleu.corpus_chrf(hyps, [refs]).score``
and ``sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a`` (sacrebleu is a test dependency only).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Sequence


def ngram_counts(tokens: Sequence[Hashable], n: int) -> Counter:
    """How often each n-gram (a tuple of ``n`` consecutive tokens) occurs in ``tokens``."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def clipped_matches(hyp: Counter, ref: Counter) -> int:
    """Matches with clipping: ``Σ_g min(count_hyp(g), count_ref(g))`` — a hypothesis n-gram
    is credited at most as often as it occurs in the reference."""
    return sum(min(count, ref[gram]) for gram, count in hyp.items() if gram in ref)


def sentence_bleu(hyp_tokens: Sequence[Hashable], ref_tokens: Sequence[Hashable], max_n: int = 4) -> float:
    """BLEU of one tokenised hypothesis against one reference, in [0, 1].

    ``BLEU = BP · exp((1/N) Σ_{n=1..N} log p_n)`` with ``N = max_n``, the clipped n-gram
    precision ``p_n = Σ_g min(c_hyp(g), c_ref(g)) / Σ_g c_hyp(g)`` over the n-grams ``g``
    of the hypothesis, and the brevity penalty ``BP = min(1, exp(1 − len_ref/len_hyp))``.
    The score is 0 if any ``p_n`` is 0 — also when the hypothesis is empty or shorter than
    ``n`` tokens (it has no n-grams). No smoothing.

    The d2l course weights the precisions by ``1/2^n`` instead (``BP · Π p_n^{1/2^n}``),
    which favours long n-grams less; the uniform weights here are the original BLEU's and
    sacrebleu's. Identical sentences of at least ``max_n`` tokens score 1.
    """
    if max_n < 1:
        raise ValueError(f"max_n must be at least 1, got {max_n}")
    if len(hyp_tokens) == 0:
        return 0.0
    log_sum = 0.0
    for n in range(1, max_n + 1):
        hyp_grams = ngram_counts(hyp_tokens, n)
        total = sum(hyp_grams.values())
        matches = clipped_matches(hyp_grams, ngram_counts(ref_tokens, n))
        if matches == 0:  # also covers total == 0
            return 0.0
        log_sum += math.log(matches / total)
    brevity = min(1.0, math.exp(1.0 - len(ref_tokens) / len(hyp_tokens)))
    return brevity * math.exp(log_sum / max_n)


# mteval-v13a's language-independent rules, in the order they apply. The symbols split off
# everywhere are ASCII punctuation except the apostrophe, hyphen, period and comma (and the
# space, harmlessly): { | } ~ [ \ ] ^ _ ` ! " # $ % & ( ) * + : ; < = > ? @ /
_13A_RULES = [
    (re.compile(r"([{|}~\[\\\]^_` !\"#$%&()*+:;<=>?@/])"), r" \1 "),
    (re.compile(r"([^0-9])([.,])"), r"\1 \2 "),  # period and comma unless after a digit
    (re.compile(r"([.,])([^0-9])"), r" \1 \2"),  # ... or unless before a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # a dash after a digit
]
_ENTITIES = [("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")]


def tokenize_13a(text: str) -> list[str]:
    """Split detokenised text into BLEU tokens the way mteval-v13a (sacrebleu's default) does.

    Drops ``<skipped>``, joins words hyphenated across a line break, turns newlines into
    spaces, unescapes ``&quot; &amp; &lt; &gt;`` (one after another, in that order), then
    splits off punctuation and symbols (period and comma only when not next to a digit
    on that side, so ``3.5`` and ``1,000`` stay whole; a dash only after a digit) and
    splits on whitespace. Not lower-cased.

    Twin: sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a (which returns the tokens joined by spaces)
    """
    text = text.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    text = f" {text} "
    for pattern, replacement in _13A_RULES:
        text = pattern.sub(replacement, text)
    return text.split()


def _check_corpus(hyps: Sequence[str], refs: Sequence[str], function: str) -> None:
    """A TypeError unless ``hyps`` and ``refs`` are sequences of strings (one reference per
    hypothesis: not sacrebleu's list of reference streams ``[refs]``, not one list per
    hypothesis, not a single string); a ValueError unless they are equally long and not empty."""
    for name, value in (("hyps", hyps), ("refs", refs)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TypeError(f"{function}(): argument '{name}' must be a list of strings, one per segment, "
                            f"not a {type(value).__name__}")
        bad = next((v for v in value if not isinstance(v, str)), None)
        if bad is None:
            continue
        hint = ""
        if name == "refs":
            hint = (" (sacrebleu's list of reference streams [refs]?): pass the stream refs itself"
                    if isinstance(bad, (list, tuple)) and len(value) == 1 else
                    f": {function} takes one reference string per hypothesis")
        raise TypeError(f"{function}(): argument '{name}' must hold one string per segment, found a "
                        f"{type(bad).__name__}{hint}")
    if len(hyps) != len(refs):
        raise ValueError(f"need one reference per hypothesis, got {len(hyps)} hypotheses and {len(refs)} references")
    if len(hyps) == 0:
        raise ValueError("the corpus is empty")


def bleu_statistics(hyp: str, ref: str, max_n: int = 4) -> list[int]:
    """One segment's sufficient statistics: ``[len_hyp, len_ref, m_1..m_N, t_1..t_N]`` with
    ``m_n`` the clipped n-gram matches and ``t_n`` the hypothesis n-grams, after 13a
    tokenisation of the right-stripped strings (as sacrebleu)."""
    hyp_tokens, ref_tokens = tokenize_13a(hyp.rstrip()), tokenize_13a(ref.rstrip())
    matches, totals = [], []
    for n in range(1, max_n + 1):
        hyp_grams = ngram_counts(hyp_tokens, n)
        matches.append(clipped_matches(hyp_grams, ngram_counts(ref_tokens, n)))
        totals.append(sum(hyp_grams.values()))
    return [len(hyp_tokens), len(ref_tokens), *matches, *totals]


def corpus_bleu(hyps: Sequence[str], refs: Sequence[str], max_n: int = 4) -> float:
    """Corpus BLEU on detokenised text, 0–100, equal to sacrebleu's default ``corpus_bleu``.

    Counts are summed over the corpus before dividing: ``p_n = Σ_s m_n(s) / Σ_s t_n(s)``,
    ``BP = exp(1 − R/H)`` if ``H < R`` else 1 (``H``, ``R``: total hypothesis and reference
    tokens; ``BP = 0`` if ``H = 0``), ``BLEU = 100 · BP · exp((1/N) Σ_n log p_n)``.
    Smoothing "exp" (mteval's): the ``j``-th order with no match gets ``p_n = 1/(2^j · t_n)``
    instead of 0. The score is 0 if nothing matches at all or some order has no n-grams.

    Twin: sacrebleu.corpus_bleu(hyps, [refs]).score
    """
    _check_corpus(hyps, refs, "corpus_bleu")
    sums = [sum(column) for column in zip(*(bleu_statistics(h, r, max_n) for h, r in zip(hyps, refs)))]
    hyp_len, ref_len, matches, totals = sums[0], sums[1], sums[2:2 + max_n], sums[2 + max_n:]
    if not any(matches) or not all(totals):
        return 0.0
    brevity = 1.0 if hyp_len >= ref_len else math.exp(1.0 - ref_len / hyp_len)
    log_sum, halvings = 0.0, 1.0
    for m, t in zip(matches, totals):
        if m == 0:
            halvings *= 2.0
            log_sum += math.log(100.0 / (halvings * t))
        else:
            log_sum += math.log(100.0 * m / t)
    return brevity * math.exp(log_sum / max_n)


def _char_ngrams(text: str, n: int) -> Counter:
    return Counter(text[i:i + n] for i in range(len(text) - n + 1))


def chrf_statistics(hyp: str, ref: str, char_order: int = 6) -> list[int]:
    """One segment's chrF statistics: per order ``n``, ``[hyp n-grams, ref n-grams, matches]``.

    Character n-grams of the text with all whitespace removed; matches clipped as in BLEU.
    As in sacrebleu, an order for which the reference has no n-grams (it is shorter than
    ``n`` characters) counts no hypothesis n-grams either.
    """
    hyp_chars, ref_chars = "".join(hyp.split()), "".join(ref.split())
    stats = []
    for n in range(1, char_order + 1):
        hyp_grams, ref_grams = _char_ngrams(hyp_chars, n), _char_ngrams(ref_chars, n)
        n_ref = sum(ref_grams.values())
        n_hyp = sum(hyp_grams.values()) if n_ref else 0
        stats += [n_hyp, n_ref, clipped_matches(hyp_grams, ref_grams)]
    return stats


def corpus_chrf(hyps: Sequence[str], refs: Sequence[str], char_order: int = 6, beta: float = 2.0) -> float:
    """Corpus chrF on detokenised text, 0–100, equal to sacrebleu's default ``corpus_chrf``.

    Statistics are summed over the corpus; per order ``n`` with hypothesis and reference
    n-grams, ``P_n = matches/hyp`` and ``R_n = matches/ref``; ``P`` and ``R`` are their
    averages over those orders, and ``chrF = 100 · (1+β²) P R / (β² P + R)`` (0 when no
    order counts or ``P + R = 0``). β = 2 weighs recall more than precision.

    Twin: sacrebleu.corpus_chrf(hyps, [refs]).score
    """
    _check_corpus(hyps, refs, "corpus_chrf")
    sums = [sum(column) for column in zip(*(chrf_statistics(h, r, char_order) for h, r in zip(hyps, refs)))]
    precisions, recalls = [], []
    for n in range(char_order):
        n_hyp, n_ref, n_match = sums[3 * n:3 * n + 3]
        if n_hyp > 0 and n_ref > 0:
            precisions.append(n_match / n_hyp)
            recalls.append(n_match / n_ref)
    if not precisions:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if p + r == 0:
        return 0.0
    factor = beta ** 2
    return 100.0 * (1 + factor) * p * r / (factor * p + r)
