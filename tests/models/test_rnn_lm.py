"""RNNLM: shapes, the carried (detached) state and its resets, the scratch layers as twins,
the loss and its units, and text generation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from divelab.data.vocab import Vocab, tokenize
from divelab.models.rnn_lm import (RNNLM, bits_per_token, generate, generate_many, perplexity,
                                   sequence_cross_entropy)

V, B, T = 11, 3, 7
CELLS = ("rnn", "gru", "lstm")


def ids(batch: int = B, steps: int = T, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (batch, steps), generator=torch.Generator().manual_seed(seed))


def model(cell: str = "lstm", **kwargs) -> RNNLM:
    torch.manual_seed(0)
    return RNNLM(V, cell, 6, **kwargs)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("options", [{}, {"embed_size": 4, "num_layers": 2, "dropout": 0.1},
                                     {"bidirectional": True, "carry_state": False}])
def test_logits_have_one_row_per_position(cell, options):
    m = model(cell, **options)
    out = m(ids())
    assert out.shape == (B, T, V) and torch.isfinite(out).all()
    sequence_cross_entropy(out, ids(seed=1)).backward()
    assert all(p.grad is not None for p in m.parameters())  # every weight is used


def test_one_hot_inputs_follow_the_weights_dtype():
    m = model(embed_size=0).double()
    assert m.inputs(ids()).dtype == torch.float64
    assert m(ids()).dtype == torch.float64


@pytest.mark.parametrize("cell", CELLS)
def test_state_is_carried_detached_across_calls(cell):
    m = model(cell)
    first, second = ids(seed=1), ids(seed=2)
    m(first)
    carried = m._state
    for s in carried if isinstance(carried, tuple) else (carried,):
        assert s.grad_fn is None and not s.requires_grad
    out = m(second)
    _, state = m.forward_state(first)
    expected, _ = m.forward_state(second, state)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert not torch.allclose(out, m.forward_state(second)[0])  # the past changed the logits
    # truncated BPTT: the second loss's graph stops at the carried state (no second backward through call 1)
    sequence_cross_entropy(out, second).backward()


@pytest.mark.parametrize("switch", ["train", "eval", "reset_state"])
def test_mode_switches_reset_the_state(switch):
    m = model()
    x = ids()
    fresh = m(x).detach()
    m(x)
    assert m._state is not None
    getattr(m, switch)()
    assert m._state is None
    m.train()
    torch.testing.assert_close(m(x), fresh, rtol=0, atol=0)


def test_a_new_batch_size_starts_from_zero():
    m = model()
    m(ids(batch=3))
    smaller = ids(batch=2, seed=5)
    torch.testing.assert_close(m(smaller), m.forward_state(smaller)[0], rtol=0, atol=0)


def test_without_carry_every_call_starts_from_zero():
    m = model(carry_state=False)
    x = ids()
    torch.testing.assert_close(m(x), m(x), rtol=0, atol=0)
    assert m._state is None


@pytest.mark.parametrize("kwargs", [{"cell": "transformer"}, {"hidden_size": 0}, {"num_layers": 0},
                                    {"embed_size": -1}, {"dropout": 1.0}, {"bidirectional": True}])
def test_bad_arguments_are_value_errors(kwargs):
    args = {"vocab_size": V, "cell": "lstm", "hidden_size": 4} | kwargs
    with pytest.raises(ValueError):
        RNNLM(**args)


def test_loss_is_the_mean_token_cross_entropy_and_its_units_agree():
    logits = torch.randn(B, T, V, generator=torch.Generator().manual_seed(0))
    y = ids(seed=3)
    manual = -F.log_softmax(logits, -1).gather(-1, y[..., None]).mean()
    torch.testing.assert_close(sequence_cross_entropy(logits, y), manual)
    loss = sequence_cross_entropy(logits, y).item()
    assert bits_per_token(loss) == pytest.approx(math.log2(perplexity(loss)))
    assert perplexity(math.log(V)) == pytest.approx(V)  # a uniform guess: V equally likely tokens
    assert perplexity(0.0) == 1.0


def test_a_bidirectional_model_predicts_even_noise_by_reading_the_answer():
    """On i.i.d. uniform tokens no left-to-right model can beat ln V nats; a bidirectional one
    trained with teacher forcing does, because its backward direction has read the target."""
    g = torch.Generator().manual_seed(1)

    def held_out_loss(bidirectional: bool) -> float:
        torch.manual_seed(0)
        m = RNNLM(8, "gru", 16, bidirectional=bidirectional, carry_state=False)
        opt = torch.optim.Adam(m.parameters(), 0.03)
        for _ in range(80):
            s = torch.randint(0, 8, (16, 7), generator=g)
            loss = sequence_cross_entropy(m(s[:, :-1]), s[:, 1:])
            opt.zero_grad()
            loss.backward()
            opt.step()
        s = torch.randint(0, 8, (256, 7), generator=g)
        with torch.no_grad():
            return sequence_cross_entropy(m(s[:, :-1]), s[:, 1:]).item()

    assert held_out_loss(False) > math.log(8) - 0.05
    assert held_out_loss(True) < 0.5 * math.log(8)


# ---- twins: the scratch layers inside the model ------------------------------------------------

@pytest.mark.twin
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_scratch_model_is_the_torch_model_with_the_same_weights(cell, bidirectional):
    """float64, weights copied: logits, gradients of every weight, and the carried state agree."""
    kwargs = {"num_layers": 2, "embed_size": 5, "bidirectional": bidirectional, "carry_state": not bidirectional}
    theirs = model(cell, **kwargs).double()
    mine = model(cell, scratch=True, **kwargs).double()
    mine.load_state_dict(theirs.state_dict())
    y = ids(seed=9)
    for seed in (1, 2):  # the second call continues from the carried state (unidirectional)
        x = ids(seed=seed)
        got, want = mine(x), theirs(x)
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-7)
        mine.zero_grad()
        theirs.zero_grad()
        sequence_cross_entropy(got, y).backward()
        sequence_cross_entropy(want, y).backward()
        for (name, p), q in zip(mine.named_parameters(), theirs.parameters()):
            torch.testing.assert_close(p.grad, q.grad, atol=1e-10, rtol=1e-7, msg=lambda m, n=name: f"{n}: {m}")


# ---- generation ----------------------------------------------------------------------------------

TEXT = "the cat sat on the mat. the dog sat on the log. "


@pytest.fixture
def char_lm() -> tuple[RNNLM, Vocab]:
    vocab = Vocab(tokenize(TEXT, "char"))
    torch.manual_seed(0)
    return RNNLM(len(vocab), "gru", 16, embed_size=4), vocab


def test_greedy_generation_is_deterministic_and_starts_with_the_prefix(char_lm):
    m, vocab = char_lm
    a = generate(m, vocab, "the c", 30)
    assert a == generate(m, vocab, "the c", 30)
    assert a.startswith("the c") and len(a) == len("the c") + 30
    assert generate(m, vocab, "the c", 0) == "the c"


def test_greedy_continuation_is_the_argmax_of_the_whole_text(char_lm):
    """Generating token by token with the running state = reading the finished text at once."""
    m, vocab = char_lm
    text = generate(m, vocab, "on the", 20)
    full = vocab.encode(tokenize(text, "char"))[None]
    logits, _ = m.forward_state(full[:, :-1])
    start = len("on the") - 1
    assert torch.equal(logits[0, start:].argmax(-1), full[0, start + 1:])


def test_sampling_is_reproducible_with_a_seeded_generator(char_lm):
    m, vocab = char_lm
    draws = [generate(m, vocab, "the", 40, temperature=1.0, generator=torch.Generator().manual_seed(s))
             for s in (0, 0, 1)]
    assert draws[0] == draws[1] and len(draws[0]) == 43
    assert draws[0] != draws[2]  # 40 draws from an untrained model's near-uniform distribution
    # a very low temperature is greedy in all but name
    assert generate(m, vocab, "the", 20, temperature=1e-4, generator=torch.Generator().manual_seed(0)) == \
        generate(m, vocab, "the", 20)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_batch_of_prefixes_generates_what_each_prefix_would_alone(bidirectional):
    """Rows of different lengths and temperatures share one batch; greedy rows equal the
    one-prefix result (float64, so batching cannot flip an argmax by rounding)."""
    vocab = Vocab(tokenize(TEXT, "char"))
    torch.manual_seed(0)
    m = RNNLM(len(vocab), "lstm", 12, embed_size=3, bidirectional=bidirectional,
              carry_state=not bidirectional).double()
    prefixes = ["the dog", "a", "on the m", "the dog"]
    texts = generate_many(m, vocab, prefixes, 15, temperatures=[0, 0, 0, 1.0],
                          generator=torch.Generator().manual_seed(0))
    assert texts[:3] == [generate(m, vocab, p, 15) for p in prefixes[:3]]
    assert all(t.startswith(p) and len(t) == len(p) + 15 for p, t in zip(prefixes, texts))
    with pytest.raises(ValueError):
        generate_many(m, vocab, prefixes, 3, temperatures=[0, 1])


def test_generation_keeps_the_training_mode_and_state_untouched(char_lm):
    m, vocab = char_lm
    m.train()
    generate(m, vocab, "the", 5)
    assert m.training
    m.eval()
    generate(m, vocab, "the", 5)
    assert not m.training


def test_word_level_and_bidirectional_generation():
    vocab = Vocab(tokenize(TEXT, "word"))
    torch.manual_seed(0)
    m = RNNLM(len(vocab), "lstm", 8, bidirectional=True, carry_state=False)
    text = generate(m, vocab, "the cat", 6, level="word")
    assert text.startswith("the cat ") and len(text.split()) == 2 + 6  # tokens joined by spaces


@pytest.mark.parametrize("kwargs", [{"num_tokens": -1}, {"temperature": -0.5}, {"temperature": math.inf},
                                    {"prefix": ""}])
def test_bad_generation_arguments_are_value_errors(char_lm, kwargs):
    m, vocab = char_lm
    args = {"prefix": "the", "num_tokens": 3} | kwargs
    with pytest.raises(ValueError):
        generate(m, vocab, **args)
