import json
from collections import Counter

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from divelab.data.vocab import UNK, Vocab, tokenize

TEXT = "The LORD’s house. “Don't go,” he said; and he went!\nThe end."


def test_char_tokens_join_back_into_the_text():
    assert "".join(tokenize(TEXT, "char")) == TEXT


def test_word_tokens_are_lower_case_with_punctuation_split_off():
    assert tokenize(TEXT, "word") == [
        "the", "lord’s", "house", ".", "“", "don't", "go", ",", "”", "he", "said", ";",
        "and", "he", "went", "!", "the", "end", "."]
    assert tokenize("The LORD", "word", lower=False) == ["The", "LORD"]
    assert tokenize("12:30, o’clock’", "word") == ["12", ":", "30", ",", "o’clock", "’"]


def test_unknown_level_is_an_error():
    with pytest.raises(ValueError, match="level"):
        tokenize("x", "sentence")


def test_ids_follow_descending_frequency_ties_alphabetical_after_unk_and_reserved():
    tokens = list("bbbaaccd")  # b:3, a:2, c:2, d:1
    vocab = Vocab(tokens, reserved=["<pad>"])
    assert vocab.idx_to_token == [UNK, "<pad>", "b", "a", "c", "d"]
    assert vocab.token_freqs == [("b", 3), ("a", 2), ("c", 2), ("d", 1)]
    assert [vocab[t] for t in "abcd"] == [3, 2, 4, 5]
    assert len(vocab) == 6 and vocab.unk == 0 and vocab[UNK] == 0


def test_min_freq_cuts_rare_tokens_to_unk_but_keeps_their_counts():
    vocab = Vocab(list("bbbaaccd"), min_freq=2)
    assert vocab.idx_to_token == [UNK, "b", "a", "c"]
    assert vocab["d"] == vocab["never seen"] == 0 and "d" not in vocab
    assert dict(vocab.token_freqs)["d"] == 1  # counted, though cut
    assert vocab.encode(list("dab")).tolist() == [0, 2, 1]


def test_a_reserved_token_that_also_occurs_keeps_its_reserved_place():
    vocab = Vocab(["x", "<eos>", "<eos>", "<eos>", UNK], reserved=["<eos>", UNK])
    assert vocab.idx_to_token == [UNK, "<eos>", "x"]


def test_min_freq_must_be_positive():
    with pytest.raises(ValueError, match="min_freq"):
        Vocab(["a"], min_freq=0)


@given(st.lists(st.sampled_from(list("abcdefg") + ["to", "be", "."]), min_size=1, max_size=60),
       st.integers(1, 4))
def test_encode_decode_round_trip_and_counts(tokens, min_freq):
    vocab = Vocab(tokens, min_freq=min_freq)
    ids = vocab.encode(tokens)
    assert ids.dtype == torch.int64 and ids.shape == (len(tokens),)
    counts = Counter(tokens)
    expected = [t if counts[t] >= min_freq else UNK for t in tokens]
    assert vocab.decode(ids) == expected
    assert vocab.decode(ids.tolist()) == expected
    assert sorted(vocab.token_freqs) == sorted(counts.items())
    freqs = [c for _, c in vocab.token_freqs]
    assert freqs == sorted(freqs, reverse=True)
    assert len(vocab) == 1 + sum(c >= min_freq for c in counts.values())


def test_decode_rejects_ids_outside_the_vocabulary():
    vocab = Vocab(["a", "b"])
    with pytest.raises(ValueError, match="id 3 is outside"):
        vocab.decode(torch.tensor([1, 3]))


def test_state_dict_survives_json_and_rebuilds_the_same_vocabulary():
    tokens = tokenize(TEXT * 3, "word")
    vocab = Vocab(tokens, min_freq=2, reserved=["<pad>"])
    again = Vocab.from_state_dict(json.loads(json.dumps(vocab.state_dict())))
    assert again.idx_to_token == vocab.idx_to_token and again.token_freqs == vocab.token_freqs
    assert again.min_freq == 2 and torch.equal(again.encode(tokens), vocab.encode(tokens))


def test_from_state_dict_rejects_a_broken_state():
    with pytest.raises(ValueError, match="not a saved vocabulary"):
        Vocab.from_state_dict({"idx_to_token": ["a", UNK]})
    with pytest.raises(ValueError, match="not a saved vocabulary"):
        Vocab.from_state_dict({"idx_to_token": [UNK, "a", "a"]})


def test_encode_takes_any_iterable_and_nothing():
    vocab = Vocab("abba")
    assert vocab.encode(iter("ba?")).tolist() == [2, 1, 0] and vocab.encode([]).shape == (0,)
