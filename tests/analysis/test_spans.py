"""BIO spans and exact-span precision/recall/F1, checked against counts worked out by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from divelab.analysis.spans import Counts, Span, bio_spans, span_scores

# Two sentences, their gold and predicted tags, and the spans and counts by hand.
# 1: fly from boston to new york on friday
GOLD_1 = ["O", "O", "B-origin", "O", "B-dest", "I-dest", "O", "B-date"]
PRED_1 = ["O", "O", "B-dest", "O", "B-dest", "I-dest", "O", "B-date"]
# 2: arrive taipei on november 2nd at 5 pm
GOLD_2 = ["O", "B-dest", "O", "B-date", "I-date", "O", "B-time", "I-time"]
PRED_2 = ["O", "B-dest", "O", "B-date", "O", "O", "I-time", "I-time"]


def test_spans_of_the_hand_worked_sentences():
    assert bio_spans(GOLD_1) == [Span("origin", 2, 3), Span("dest", 4, 6), Span("date", 7, 8)]
    assert bio_spans(PRED_1) == [Span("dest", 2, 3), Span("dest", 4, 6), Span("date", 7, 8)]
    assert bio_spans(GOLD_2) == [Span("dest", 1, 2), Span("date", 3, 5), Span("time", 6, 8)]
    # "november" alone is a (wrong) date; "I-time I-time" without a B- is still one time span
    assert bio_spans(PRED_2) == [Span("dest", 1, 2), Span("date", 3, 4), Span("time", 6, 8)]


def test_scores_of_the_hand_worked_case():
    scores = span_scores([GOLD_1, GOLD_2], [PRED_1, PRED_2])
    # dest: gold s1 4–6, s2 1–2; predicted s1 2–3 (wrong), s1 4–6, s2 1–2 → tp 2, fp 1, fn 0
    # origin: gold s1 2–3, never predicted → tp 0, fp 0, fn 1
    # date: gold s1 7–8, s2 3–5; predicted s1 7–8, s2 3–4 (too short) → tp 1, fp 1, fn 1
    # time: gold s2 6–8, predicted s2 6–8 → tp 1
    expected = {"dest": (2, 1, 0), "origin": (0, 0, 1), "date": (1, 1, 1), "time": (1, 0, 0)}
    assert {k: (c.tp, c.fp, c.fn) for k, c in scores.per_label.items()} == expected
    dest, origin, date, time = (scores.per_label[k] for k in ("dest", "origin", "date", "time"))
    assert (dest.precision, dest.recall, dest.f1) == pytest.approx((2 / 3, 1.0, 0.8))
    assert (origin.precision, origin.recall, origin.f1) == (0.0, 0.0, 0.0)
    assert (date.precision, date.recall, date.f1) == pytest.approx((0.5, 0.5, 0.5))
    assert (time.precision, time.recall, time.f1) == (1.0, 1.0, 1.0)
    # micro: tp 4, fp 2, fn 2 → P = R = 4/6, F1 = 2/3
    assert (scores.micro.tp, scores.micro.fp, scores.micro.fn) == (4, 2, 2)
    assert (scores.micro.precision, scores.micro.recall, scores.micro.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert scores.micro.support == 6 and dest.support == 2
    table = scores.as_dict()
    assert list(table) == ["date", "dest", "origin", "time", "micro"]
    assert table["dest"]["f1"] == pytest.approx(0.8)


@pytest.mark.parametrize("tags, spans", [
    ([], []),
    (["O", "O"], []),
    (["I-a", "I-a", "O"], [Span("a", 0, 2)]),                      # I- starts a span
    (["O", "I-a"], [Span("a", 1, 2)]),
    (["B-a", "I-b"], [Span("a", 0, 1), Span("b", 1, 2)]),          # I- of another label starts a new one
    (["B-a", "B-a", "I-a"], [Span("a", 0, 1), Span("a", 1, 3)]),   # adjacent spans of one label
    (["B-a", "B-b", "I-b", "I-b"], [Span("a", 0, 1), Span("b", 1, 4)]),
    (["I-a", "B-a"], [Span("a", 0, 1), Span("a", 1, 2)]),
    (["B-a", "O", "I-a"], [Span("a", 0, 1), Span("a", 2, 3)]),     # O closes a span
])
def test_edge_cases_of_bio_decoding(tags, spans):
    assert bio_spans(tags) == spans


def test_no_predictions_gives_zero_precision_and_recall():
    scores = span_scores([GOLD_1], [["O"] * len(GOLD_1)])
    assert scores.micro == Counts(tp=0, fp=0, fn=3)
    assert (scores.micro.precision, scores.micro.recall, scores.micro.f1) == (0.0, 0.0, 0.0)


def test_no_gold_spans_makes_every_prediction_spurious():
    scores = span_scores([["O"] * len(PRED_2)], [PRED_2])
    assert scores.micro == Counts(tp=0, fp=3, fn=0)
    assert scores.micro.f1 == 0.0 and scores.micro.support == 0


def test_nothing_at_all_scores_zero():
    scores = span_scores([["O", "O"], []], [["O", "O"], []])
    assert scores.per_label == {} and scores.micro == Counts()


def test_perfect_prediction_scores_one():
    scores = span_scores([GOLD_1, GOLD_2], [GOLD_1, GOLD_2])
    assert scores.micro.f1 == 1.0 and all(c.f1 == 1.0 for c in scores.per_label.values())


@pytest.mark.parametrize("tag", ["B", "X-a", "B-", "b-a", "Ia"])
def test_malformed_tags_are_refused(tag):
    with pytest.raises(ValueError, match="not a BIO tag"):
        bio_spans(["O", tag])


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="sentence 0"):
        span_scores([["O", "B-a"]], [["O"]])
    with pytest.raises(ValueError, match="gold sentences"):
        span_scores([["O"]], [])


@st.composite
def _span_layouts(draw: st.DrawFn) -> tuple[int, list[Span]]:
    """A sentence length and non-overlapping spans in it (adjacent ones allowed)."""
    length = draw(st.integers(0, 12))
    cuts = sorted(draw(st.sets(st.integers(0, length), max_size=8)))
    spans = []
    for start, end in zip(cuts, cuts[1:]):
        if draw(st.booleans()):
            spans.append(Span(draw(st.sampled_from(["a", "b"])), start, end))
    return length, spans


@given(_span_layouts())
def test_tagging_spans_in_bio_and_decoding_gives_them_back(layout):
    length, spans = layout
    tags = ["O"] * length
    for label, start, end in spans:
        tags[start:end] = [f"B-{label}"] + [f"I-{label}"] * (end - start - 1)
    assert bio_spans(tags) == spans
