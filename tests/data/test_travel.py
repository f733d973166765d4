"""The generated travel-request corpus: well-formed BIO tags, disjoint splits, determinism."""

from __future__ import annotations

import random
import re

import pytest
import torch

from divelab.analysis.spans import bio_spans
from divelab.data import travel
from divelab.data.travel import (AIRLINES, CITIES, SLOTS, TAG_PAD, TAGS, TEMPLATES, load_travel, make_sentence,
                                 split_cities)

SPLITS = ("train", "val", "test", "test_seen")


@pytest.fixture(scope="module")
def corpus() -> travel.TravelCorpus:
    return load_travel(num_train=600, num_eval=300, seed=0)


def _city_spans(split: travel.TaggedSplit) -> set[str]:
    return {" ".join(words[s.start:s.end]) for words, tags in zip(split.words, split.tag_names)
            for s in bio_spans(tags) if s.label in ("origin", "dest")}


def _template_of(words: list[str], tags: list[str]) -> str:
    """The template a sentence was made from: each span back to ``{slot}``, and the
    preposition of a date or time ("on", "in the") dropped."""
    pieces = list(words)
    for label, start, end in reversed(bio_spans(tags)):
        forms = {"date": travel.DATE_FORMS, "time": travel.TIME_FORMS}.get(label, ())
        preps = sorted({tuple(prep.split()) for prep, _ in forms if prep}, key=len, reverse=True)
        for prep in preps:
            if tuple(pieces[start - len(prep):start]) == prep:
                start -= len(prep)
                break
        pieces[start:end] = [f"{{{label}}}"]
    return " ".join(pieces)


def test_the_lexicons_are_real_and_varied():
    assert len(CITIES) == len(set(CITIES)) >= 300
    assert sum(" " in c for c in CITIES) >= 30  # multi-word names: "new york", "rio de janeiro"
    assert {"new york", "rio de janeiro", "taipei", "boston"} <= set(CITIES)
    assert len(AIRLINES) == len(set(AIRLINES))
    assert TAGS[0] == "O" and len(TAGS) == 1 + 2 * len(SLOTS)


def test_cities_split_into_disjoint_parts_each_with_multi_word_names():
    parts = split_cities(seed=3)
    assert sorted(c for part in parts.values() for c in part) == sorted(CITIES)
    assert all(any(" " in c for c in part) for part in parts.values())
    assert 0.05 < len(parts["test"]) / len(CITIES) < 0.15
    assert parts != split_cities(seed=4)


def test_templates_of_the_splits_are_disjoint():
    train, val, test = set(TEMPLATES["train"]), set(TEMPLATES["val"]), set(TEMPLATES["test"])
    assert not (train & val or train & test or val & test)
    assert TEMPLATES["test_seen"] == TEMPLATES["test"]
    used = {slot for template in TEMPLATES["test"] for slot in re.findall(r"\{(\w+)\}", template)}
    assert used == set(SLOTS)  # every slot is scored on the test split


def test_test_sentences_come_from_unseen_templates_and_cities(corpus):
    assert _city_spans(corpus.test) <= set(corpus.cities["test"])
    assert _city_spans(corpus.val) <= set(corpus.cities["val"])
    assert _city_spans(corpus.train) <= set(corpus.cities["train"])
    assert _city_spans(corpus.test_seen) <= set(corpus.cities["train"])
    assert not _city_spans(corpus.train) & (_city_spans(corpus.test) | _city_spans(corpus.val))
    for name in SPLITS:
        split = getattr(corpus, name)
        used = {_template_of(w, t) for w, t in zip(split.words, split.tag_names)}
        assert used == set(TEMPLATES[name])  # each sentence from its split's templates, all of them used


def test_unseen_cities_are_mostly_unknown_words(corpus):
    vocab = set(corpus.vocab.idx_to_token)
    test_city_words = [w for city in corpus.cities["test"] for w in city.split()]
    assert sum(w not in vocab for w in test_city_words) / len(test_city_words) > 0.8
    train_words = {w for words in corpus.train.words for w in words}
    assert set(corpus.vocab.idx_to_token[2:]) == train_words  # built on the training split only


def test_tags_are_valid_bio_and_spans_hold_slot_values(corpus):
    for name in SPLITS:
        split = getattr(corpus, name)
        for words, tags in zip(split.words, split.tag_names):
            assert len(words) == len(tags) > 0
            for i, tag in enumerate(tags):
                assert tag in TAGS
                if tag.startswith("I-"):
                    assert tags[i - 1][2:] == tag[2:] and tags[i - 1] != "O"  # never a stray I-
            for span in bio_spans(tags):
                value = " ".join(words[span.start:span.end])
                if span.label == "airline":
                    assert value in AIRLINES
                if span.label in ("origin", "dest"):
                    assert value in CITIES
            cities = [s for s in bio_spans(tags) if s.label in ("origin", "dest")]
            assert len({" ".join(words[s.start:s.end]) for s in cities}) == len(cities)  # origin ≠ dest


def test_tensors_match_the_words_and_tags(corpus):
    for name in SPLITS:
        split = getattr(corpus, name)
        n, longest = split.ids.shape
        assert split.tags.shape == (n, longest) and split.lengths.shape == (n,) and n == len(split)
        assert split.ids.dtype == split.tags.dtype == torch.int64
        assert int(split.lengths.max()) == longest
        for i in (0, n // 2, n - 1):
            length = len(split.words[i])
            assert split.lengths[i] == length
            assert corpus.vocab.decode(split.ids[i, :length].tolist()) == [
                w if w in corpus.vocab.idx_to_token else "<unk>" for w in split.words[i]]
            assert [TAGS[t] for t in split.tags[i, :length].tolist()] == split.tag_names[i]
            assert (split.ids[i, length:] == corpus.pad_id).all()
            assert (split.tags[i, length:] == TAG_PAD).all()


def test_vocabulary_order_and_counts(corpus):
    vocab = corpus.vocab
    assert vocab.idx_to_token[:2] == ["<unk>", "<pad>"] and (vocab.unk, corpus.pad_id) == (0, 1)
    counts = corpus.word_counts
    assert len(counts) == len(vocab) and counts[:2] == (0, 0)
    counted = list(zip(counts[2:], vocab.idx_to_token[2:]))
    assert counted == sorted(counted, key=lambda item: (-item[0], item[1]))  # most frequent first
    assert sum(counts) == sum(len(w) for w in corpus.train.words)
    assert counts[vocab["to"]] == sum(w.count("to") for w in corpus.train.words)


def test_same_seed_same_corpus_other_seed_other_corpus():
    a, b = load_travel(200, 50, seed=7), load_travel(200, 50, seed=7)
    for name in SPLITS:
        assert getattr(a, name).words == getattr(b, name).words
        assert torch.equal(getattr(a, name).ids, getattr(b, name).ids)
    c = load_travel(200, 50, seed=8)
    assert c.train.words != a.train.words and c.cities != a.cities


def test_splits_are_independent_of_the_other_sizes():
    small, large = load_travel(100, 40, seed=1), load_travel(300, 40, seed=1)
    assert small.test.words == large.test.words and small.val.words == large.val.words
    assert large.train.words[:100] == small.train.words


def test_make_sentence_tags_prepositions_as_outside():
    words, tags = make_sentence("fly to {dest} {time} {date}", ["rio de janeiro", "boston"], random.Random(0))
    assert words[:2] == ["fly", "to"] and tags[:2] == ["O", "O"]
    spans = bio_spans(tags)
    assert [s.label for s in spans] == ["dest", "time", "date"]
    assert " ".join(words[spans[0].start:spans[0].end]) in ("rio de janeiro", "boston")
    for span in spans[1:]:  # "at", "on", "in the" … belong to no span
        assert all(tags[i] == "O" for i in range(spans[0].end, span.start) if words[i] in ("at", "on", "in", "the"))


def test_ordinals():
    assert [travel._ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 28)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "28th"]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="num_train"):
        load_travel(num_train=0)
    with pytest.raises(ValueError, match="unknown slot"):
        make_sentence("fly to {hotel}", ["boston", "denver"], random.Random(0))
