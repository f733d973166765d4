"""Taggers: Elman against nn.RNN (twin), padding invariance, Jordan's feedback, word dropout."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.func import functional_call

from divelab.models.tagger import (ElmanRNN, JordanRNN, RNNTagger, TokenEmbedding, frequency_dropout, tagging_loss,
                                   word_dropout)
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

V, C, E, H = 20, 5, 6, 7  # vocabulary, tags, embedding and hidden sizes
PAD, UNK = 1, 0


def _ids(*lengths: int, seed: int = 0) -> Tensor:
    """A batch of random word ids padded with PAD (never PAD or UNK inside a sentence)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.full((len(lengths), max(lengths)), PAD)
    for i, n in enumerate(lengths):
        x[i, :n] = torch.randint(2, V, (n,), generator=gen)
    return x


class _Recurrence(nn.Module):
    """``ElmanRNN.recurrence`` as a module's forward, so ``functional_call`` can swap its weights."""

    def __init__(self, elman: ElmanRNN):
        super().__init__()
        self.elman = elman

    def forward(self, e: Tensor) -> Tensor:
        return self.elman.recurrence(e)


@pytest.mark.parametrize("batch, steps", [(3, 5), (1, 1), (4, 12)])
def test_elman_recurrence_is_torch_rnn_with_the_same_weights(batch, steps):
    torch.manual_seed(0)
    recurrence = _Recurrence(ElmanRNN(V, C, E, H)).double()
    rnn = nn.RNN(E, H, batch_first=True).double()
    e = torch.randn(batch, steps, E, dtype=torch.float64)
    elman = recurrence.elman

    def scratch(e: Tensor, w_x: Tensor, b: Tensor, w_h: Tensor) -> Tensor:
        return functional_call(recurrence, {"elman.w_x.weight": w_x, "elman.w_x.bias": b, "elman.w_h.weight": w_h},
                               (e,))

    def library(e: Tensor, w_x: Tensor, b: Tensor, w_h: Tensor) -> Tensor:
        # torch's RNN has two biases; the Elman formula has one, so the second is 0
        params = {"weight_ih_l0": w_x, "bias_ih_l0": b, "weight_hh_l0": w_h, "bias_hh_l0": torch.zeros_like(b)}
        return functional_call(rnn, params, (e,))[0]

    # gradients reach the input and every weight on both sides, and agree
    assert_twin(scratch, library, e, elman.w_x.weight, elman.w_x.bias, elman.w_h.weight, atol=1e-8, rtol=1e-8)


def test_elman_tagger_equals_torch_rnn_tagger_with_copied_weights():
    torch.manual_seed(1)
    elman = ElmanRNN(V, C, E, H).double().eval()
    tagger = RNNTagger(V, C, "rnn", E, H, bidirectional=False).double().eval()
    tagger.embed.load_state_dict(elman.embed.state_dict())
    tagger.out.load_state_dict(elman.out.state_dict())
    with torch.no_grad():
        tagger.rnn.weight_ih_l0.copy_(elman.w_x.weight)
        tagger.rnn.bias_ih_l0.copy_(elman.w_x.bias)
        tagger.rnn.weight_hh_l0.copy_(elman.w_h.weight)
        tagger.rnn.bias_hh_l0.zero_()
    x = _ids(6, 3, 4)
    mask = x != PAD
    torch.testing.assert_close(elman(x)[mask], tagger(x)[mask], atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_padding_does_not_change_the_bidirectional_taggers_outputs(cell):
    torch.manual_seed(2)
    model = RNNTagger(V, C, cell, E, H, bidirectional=True, num_layers=2).double().eval()
    x = _ids(3, 8, 5, 1)
    batch = model(x)
    assert batch.shape == (4, 8, C)
    for i, n in enumerate((3, 8, 5, 1)):
        alone = model(x[i:i + 1, :n])
        torch.testing.assert_close(batch[i:i + 1, :n], alone, atol=1e-12, rtol=1e-12)


def test_unpacked_backward_pass_would_see_the_padding():
    """The property above is not trivial: running the padded batch through the RNN unpacked
    (what packing avoids) changes the backward direction's states at valid positions."""
    torch.manual_seed(3)
    model = RNNTagger(V, C, "gru", E, H, bidirectional=True).double().eval()
    x = _ids(3, 8)
    e, _ = model.embed(x)
    unpacked = model.out(model.rnn(e)[0])
    assert not torch.allclose(unpacked[0, :3], model(x)[0, :3])
    torch.testing.assert_close(unpacked[1], model(x)[1])  # the longest sentence has no padding


def test_unidirectional_outputs_depend_only_on_the_words_so_far():
    torch.manual_seed(4)
    for model in (RNNTagger(V, C, "lstm", E, H, bidirectional=False), ElmanRNN(V, C, E, H), JordanRNN(V, C, E, H)):
        model = model.double().eval()
        x = _ids(7)
        changed = x.clone()
        changed[0, 4] = 2 if x[0, 4] != 2 else 3
        a, b = model(x), model(changed)
        torch.testing.assert_close(a[:, :4], b[:, :4], atol=0, rtol=0)
        assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_jordan_follows_its_formula():
    torch.manual_seed(5)
    model = JordanRNN(V, C, E, H).double().eval()
    x = _ids(4, 2)
    e = model.embed.embedding(x)
    w_x, b, w_y = model.w_x.weight, model.w_x.bias, model.w_y.weight
    y = torch.zeros(2, C, dtype=torch.float64)  # ŷ_0 = 0
    expected = []
    for t in range(4):
        h = torch.tanh(e[:, t] @ w_x.T + y @ w_y.T + b)
        logits = model.out(h)
        expected.append(logits)
        y = torch.softmax(logits, dim=-1)
    torch.testing.assert_close(model(x), torch.stack(expected, 1), atol=1e-12, rtol=1e-12)


def test_jordan_without_feedback_has_no_memory():
    """With W_y = 0 each word is tagged on its own; the feedback is the only path between steps."""
    torch.manual_seed(6)
    model = JordanRNN(V, C, E, H).double().eval()
    x = _ids(5)
    changed = x.clone()
    changed[0, 1] = 2 if x[0, 1] != 2 else 3
    assert not torch.allclose(model(x)[:, 2:], model(changed)[:, 2:])
    with torch.no_grad():
        model.w_y.weight.zero_()
    torch.testing.assert_close(model(x)[:, 2:], model(changed)[:, 2:], atol=0, rtol=0)


def test_every_parameter_gets_a_gradient_through_the_loss():
    torch.manual_seed(7)
    x = _ids(5, 3, 2)
    tags = torch.randint(0, C, x.shape).masked_fill(x == PAD, -100)
    for model in (RNNTagger(V, C, "gru", E, H), ElmanRNN(V, C, E, H), JordanRNN(V, C, E, H)):
        loss = tagging_loss(model(x), tags)
        loss.backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name


def test_loss_ignores_padding_positions():
    logits = torch.randn(2, 3, C)
    tags = torch.tensor([[1, 2, -100], [0, -100, -100]])
    valid = tags != -100
    expected = nn.functional.cross_entropy(logits[valid], tags[valid])
    torch.testing.assert_close(tagging_loss(logits, tags), expected)
    scrambled = logits.clone()
    scrambled[~valid] = 100 * torch.randn(int((~valid).sum()), C)
    torch.testing.assert_close(tagging_loss(scrambled, tags), expected)


def test_word_dropout_replaces_words_not_padding_and_only_in_training():
    torch.manual_seed(8)
    x = _ids(*[30] * 50, 10)
    dropped = word_dropout(x, 0.25, UNK, PAD)
    assert (dropped[x == PAD] == PAD).all()
    changed = dropped != x
    assert (dropped[changed] == UNK).all()
    rate = changed.sum() / (x != PAD).sum()
    assert 0.2 < rate < 0.3  # 1,510 words at p = 0.25: the rate's standard deviation is ≈ 0.011
    assert torch.equal(word_dropout(x, 0.0, UNK, PAD), x)

    model = RNNTagger(V, C, "gru", E, H, word_dropout=0.5).eval()
    torch.testing.assert_close(model(x), model(x))  # eval: no dropout, deterministic
    model.train()
    assert not torch.allclose(model(x), model(x))


def test_frequency_dropout_drops_rare_words_more_often():
    rates = frequency_dropout([0, 0, 1, 5, 95], alpha=5.0)
    torch.testing.assert_close(rates, torch.tensor([0.0, 0.0, 5 / 6, 0.5, 0.05]))  # α / (α + count)
    assert torch.equal(frequency_dropout([0, 3, 7], alpha=0.0), torch.zeros(3))
    with pytest.raises(ValueError, match="alpha"):
        frequency_dropout([1, 2], alpha=-1.0)


def test_per_word_rates_drop_only_the_words_that_have_one():
    torch.manual_seed(9)
    rates = torch.zeros(V)
    rates[5] = 0.5
    x = torch.arange(2, V).repeat(200, 1)  # every word 200 times
    dropped = word_dropout(x, rates, UNK, PAD)
    changed = dropped != x
    assert (x[changed] == 5).all()
    assert 60 < int(changed.sum()) < 140  # 200 tries at p = 0.5: mean 100, sd ≈ 7
    embed = TokenEmbedding(V, E, word_dropout=rates)
    assert torch.equal(embed.state_dict()["word_dropout"], rates)  # kept in checkpoints
    with pytest.raises(ValueError, match="one rate per word"):
        TokenEmbedding(V, E, word_dropout=torch.zeros(V + 1))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        TokenEmbedding(V, E, word_dropout=torch.ones(V))


@pytest.mark.parametrize("kwargs, match", [
    ({"cell": "transformer"}, "cell"),
    ({"hidden_size": 0}, "hidden_size"),
    ({"word_dropout": 1.0}, "word_dropout"),
    ({"pad_id": V}, "pad_id"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RNNTagger(V, C, **kwargs)


def test_empty_sentences_are_refused():
    model = RNNTagger(V, C)
    with pytest.raises(ValueError, match="empty"):
        model(torch.tensor([[3, 4], [PAD, PAD]]))
