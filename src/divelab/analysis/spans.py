"""Spans from BIO tags and their precision, recall and F1 — the slot-filling metric.

A tag sequence such as ``O B-dest I-dest O B-time`` marks the spans ``(dest, 1, 3)`` and
``(time, 4, 5)`` (start inclusive, end exclusive). A predicted span counts as correct only
if its label, start and end all equal a gold span's in the same sentence (exact match, as
CoNLL-2000's ``conlleval`` scores chunks).

Decoding follows ``conlleval``, so that an argmax tagger's invalid sequences are scored the
usual way: ``B-X`` always starts a span; ``I-X`` continues the open span only if that span
is also ``X``, otherwise it starts a new one (an ``I-`` without a ``B-``); ``O`` closes the
open span.

Per label X, over all sentences::

    precision = tp / (tp + fp)      recall = tp / (tp + fn)      F1 = 2·P·R / (P + R)

with tp the correct predicted spans, fp the other predicted spans, fn the gold spans not
predicted. The micro average pools tp, fp and fn over all labels before dividing. A ratio
whose denominator is 0 is 0 (``conlleval``'s convention), so a label never predicted has
precision 0 and a run with no gold spans has recall 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple


class Span(NamedTuple):
    """One tagged span: ``label`` over the tokens ``start … end − 1``."""

    label: str
    start: int
    end: int


def _split_tag(tag: str) -> tuple[str, str]:
    """``"B-dest"`` → ``("B", "dest")``, ``"O"`` → ``("O", "")``; anything else is refused."""
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or prefix not in ("B", "I") or not label:
        raise ValueError(f"not a BIO tag: {tag!r} (expected 'O', 'B-LABEL' or 'I-LABEL')")
    return prefix, label


def bio_spans(tags: Sequence[str]) -> list[Span]:
    """The spans of one sentence's BIO tags, in order (``conlleval``'s rule for a stray ``I-``)."""
    spans: list[Span] = []
    label, start = "", -1  # the open span; label "" means none is open
    for i, tag in enumerate(tags):
        prefix, tag_label = _split_tag(tag)
        continues = prefix == "I" and tag_label == label
        if label and not continues:
            spans.append(Span(label, start, i))
            label = ""
        if prefix != "O" and not continues:
            label, start = tag_label, i
    if label:
        spans.append(Span(label, start, len(tags)))
    return spans


@dataclass(frozen=True)
class Counts:
    """Span counts of one label (or of all, pooled): correct, spurious and missed spans."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def support(self) -> int:
        """Number of gold spans."""
        return self.tp + self.fn

    def as_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support,
                "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass(frozen=True)
class SpanScores:
    """Exact-span scores: ``per_label[X]`` for each label seen in gold or predictions, ``micro`` pooled."""

    per_label: dict[str, Counts]
    micro: Counts

    def as_dict(self) -> dict[str, dict[str, float]]:
        """JSON-able: ``{label: {precision, recall, f1, support, tp, fp, fn}, …, "micro": {…}}``."""
        return {**{label: c.as_dict() for label, c in sorted(self.per_label.items())}, "micro": self.micro.as_dict()}


def span_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> SpanScores:
    """Per-label and micro precision/recall/F1 of ``predicted`` against ``gold`` tag sequences.

    ``gold[i]`` and ``predicted[i]`` are the BIO tags of sentence ``i`` and must be equally long.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted ones")
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for i, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted ones")
        gold_spans, pred_spans = set(bio_spans(g)), set(bio_spans(p))
        for span in gold_spans & pred_spans:
            tp[span.label] += 1
        for span in pred_spans - gold_spans:
            fp[span.label] += 1
        for span in gold_spans - pred_spans:
            fn[span.label] += 1
    labels = set(tp) | set(fp) | set(fn)
    per_label = {label: Counts(tp[label], fp[label], fn[label]) for label in labels}
    micro = Counts(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return SpanScores(per_label, micro)
