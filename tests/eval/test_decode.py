"""Greedy and beam search against tiny fake translation models.

Two fakes implement ``encode``/``step``: :class:`TableModel` (next-token log-probabilities
read from a table indexed by the sentence's first source token and the previous token: the
expected outputs can be worked out by hand) and :class:`TinyGRU` (a small random float64
GRU decoder attending over a masked source, with a growing token history in its state that
changes its outputs — a wrong row in any state tensor changes the results).

Beam search is checked against (a) exhaustive enumeration of every output up to the
maximum length with a beam wide enough to keep every candidate, (b) a plain one-sentence,
one-hypothesis-at-a-time reference of the same rule, (c) greedy search for beam size 1,
(d) itself run sentence by sentence and (e) itself without early stopping.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict, namedtuple

import pytest
import torch
from torch import nn

from divelab.eval.decode import Hypothesis, beam_search, greedy_decode, max_len_for, reorder_state

BOS, EOS = 0, 1


class TableModel:
    """``log p(v | prev) = tables[src[0], prev, v]``: a Markov chain chosen by the source."""

    def __init__(self, tables: torch.Tensor):
        self.tables = tables  # (n_tables, V, V) log-probabilities
        self.steps = 0

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> dict:
        return {"table": src[:, 0].clone(), "offset": 3}

    def step(self, prev: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        self.steps += 1
        return self.tables[state["table"], prev], state


class TinyGRU(nn.Module):
    """A random GRU decoder with dot-product attention over the (masked) source embeddings.

    Its logits are lowered for tokens already produced (``hist`` in the state), so the
    history tensor must follow the beams too. ``eos_bias`` shifts the eos logit.
    """

    def __init__(self, vocab: int, hidden: int = 6, eos_bias: float = 0.0, scale: float = 2.5, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.src_emb = nn.Embedding(vocab, hidden)
            self.tgt_emb = nn.Embedding(vocab, hidden)
            self.cell = nn.GRUCell(hidden, hidden)
            self.out = nn.Linear(2 * hidden, vocab)
        self.double()
        self.vocab, self.eos_bias, self.scale = vocab, eos_bias, scale
        self.steps = 0

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> dict:
        emb = self.src_emb(src)  # (B, S, H)
        mask = torch.arange(src.shape[1])[None, :] < src_len[:, None]  # (B, S), True = real token
        mean = (emb * mask[..., None]).sum(1) / src_len[:, None]
        hist = torch.zeros((src.shape[0], 0), dtype=torch.int64)
        return {"h": torch.tanh(mean), "memory": (emb, mask), "hist": [hist], "t": 0}

    def step(self, prev: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        self.steps += 1
        h = self.cell(self.tgt_emb(prev), state["h"])  # (B, H)
        emb, mask = state["memory"]
        scores = (emb @ h[:, :, None]).squeeze(-1).masked_fill(~mask, -math.inf)  # (B, S)
        context = (scores.softmax(-1)[..., None] * emb).sum(1)
        hist = torch.cat([state["hist"][0], prev[:, None]], dim=1)  # (B, t)
        repeats = nn.functional.one_hot(hist, self.vocab).sum(1).to(h.dtype)  # (B, V)
        logits = self.scale * self.out(torch.cat([h, context], -1)) - 0.7 * repeats
        logits[:, EOS] += self.eos_bias
        return logits.log_softmax(-1), {**state, "h": h, "hist": [hist], "t": state["t"] + 1}


def sources(batch: int, vocab: int, seed: int = 0, max_src: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Random padded sources (padding id 2 — a real token, so masking must hide it)."""
    g = torch.Generator().manual_seed(seed)
    src_len = torch.randint(1, max_src + 1, (batch,), generator=g)
    src = torch.randint(0, vocab, (batch, max_src), generator=g)
    src[torch.arange(max_src)[None, :] >= src_len[:, None]] = 2
    return src, src_len


def sequence_log_probs(model, src, src_len, sequences: list[list[int]]) -> list[float]:
    """Teacher-forced ``Σ_t log p(y_t | y_<t)`` of each sequence (rows of one source), batched."""
    n, length = len(sequences), max(len(s) for s in sequences)
    padded = torch.tensor([s + [EOS] * (length - len(s)) for s in sequences])
    state = model.encode(src.expand(n, -1), src_len.expand(n))
    prev, totals = torch.full((n,), BOS), torch.zeros(n, dtype=torch.float64)
    for t in range(length):
        log_probs, state = model.step(prev, state)
        picked = log_probs.gather(1, padded[:, t:t + 1]).squeeze(1).double()
        totals += torch.where(torch.tensor([t < len(s) for s in sequences]), picked, 0.0)
        prev = padded[:, t]
    return totals.tolist()


def brute_force(model, src, src_len, vocab: int, max_len: int, alpha: float) -> list[tuple[list[int], float]]:
    """Every output up to ``max_len`` tokens — ``w eos`` with ``|w| < max_len``, and ``w`` with
    ``|w| = max_len`` (cut) — scored ``log_prob / len^α``, best first."""
    words = [t for t in range(vocab) if t != EOS]
    outputs = [list(w) + [EOS] for j in range(max_len) for w in itertools.product(words, repeat=j)]
    outputs += [list(w) for w in itertools.product(words, repeat=max_len)]
    log_probs = sequence_log_probs(model, src, src_len, outputs)
    scored = [(_strip(s), lp / len(s) ** alpha) for s, lp in zip(outputs, log_probs)]
    return sorted(scored, key=lambda item: item[1], reverse=True)


def _strip(sequence: list[int]) -> list[int]:
    return sequence[:-1] if sequence and sequence[-1] == EOS else sequence


def reference_beam(model, src, src_len, k: int, max_len: int, alpha: float) -> list[tuple[list[int], float]]:
    """The beam rule written plainly for one sentence: keep the ``k`` best extensions of the live
    hypotheses; those ending in eos (or reaching ``max_len``) are finished; stop when none is
    live or the ``k``-th best finished score beats ``max(lp/(t+1)^α, lp/L^α)`` of the best live."""
    live: list[tuple[list[int], float]] = [([], 0.0)]
    finished: list[tuple[list[int], float]] = []
    for t in range(1, max_len + 1):
        next_lp = sequence_next_log_probs(model, src, src_len, [tokens for tokens, _ in live])
        candidates = [(tokens + [v], lp + next_lp[i][v]) for i, (tokens, lp) in enumerate(live)
                      for v in range(len(next_lp[i]))]
        candidates.sort(key=lambda c: c[1], reverse=True)
        live = []
        for tokens, lp in candidates[:k]:
            if tokens[-1] == EOS or t == max_len:
                finished.append((_strip(tokens), lp / t ** alpha))
            else:
                live.append((tokens, lp))
        if not live:
            break
        scores = sorted((s for _, s in finished), reverse=True)
        best = max(lp for _, lp in live)
        if len(scores) >= k and scores[k - 1] >= max(best / (t + 1) ** alpha, best / max_len ** alpha):
            break
    return sorted(finished, key=lambda item: item[1], reverse=True)


def sequence_next_log_probs(model, src, src_len, prefixes: list[list[int]]) -> list[list[float]]:
    """``log p(· | prefix)`` for each prefix, by running the model over the prefix from bos."""
    rows = []
    for prefix in prefixes:
        state = model.encode(src, src_len)
        prev = torch.tensor([BOS])
        for token in prefix + [None]:
            log_probs, state = model.step(prev, state)
            prev = torch.tensor([token]) if token is not None else prev
        rows.append(log_probs[0].double().tolist())
    return rows


def assert_same_hypotheses(got: list[Hypothesis], expected: list[tuple[list[int], float]]) -> None:
    assert [h.tokens for h in got] == [tokens for tokens, _ in expected]
    assert [h.score for h in got] == pytest.approx([score for _, score in expected], rel=1e-12, abs=1e-12)


# ---- reorder_state and max_len_for -------------------------------------------------------------

Cache = namedtuple("Cache", ["k", "v"])


def test_reorder_state_selects_rows_of_every_tensor_in_a_nest():
    g = torch.Generator().manual_seed(0)
    memory, mask = torch.randn(3, 5, 4, generator=g), torch.rand(3, 5, generator=g) < 0.5
    k, v = torch.randn(3, 2, 4, 2, generator=g), torch.randn(3, 2, 4, 2, generator=g)
    state = {"encoder": (memory, mask), "layers": [Cache(k, v), OrderedDict(h=memory[:, 0])],
             "t": 7, "name": "gru", "none": None, "temperature": torch.tensor(2.0)}
    index = torch.tensor([2, 0, 2, 1])
    out = reorder_state(state, index)
    assert torch.equal(out["encoder"][0], memory[index]) and torch.equal(out["encoder"][1], mask[index])
    assert type(out["encoder"]) is tuple and type(out["layers"]) is list
    assert isinstance(out["layers"][0], Cache) and torch.equal(out["layers"][0].v, v[index])
    assert isinstance(out["layers"][1], OrderedDict) and torch.equal(out["layers"][1]["h"], memory[index, 0])
    assert out["t"] == 7 and out["name"] == "gru" and out["none"] is None
    assert out["temperature"] is state["temperature"]  # 0-dim: no batch axis to select from
    assert state["encoder"][0] is memory and state["layers"][0].k is k  # the input state is not changed


def test_max_len_for_floors_and_keeps_at_least_one():
    src_len = torch.tensor([0, 1, 3, 10])
    assert max_len_for(src_len, 1.5, 2).tolist() == [2, 3, 6, 17]
    assert max_len_for(src_len, 0.5, -1).tolist() == [1, 1, 1, 4]
    assert max_len_for(7, 1.5, 10) == 20 and max_len_for(src_len, 1.5, 10).dtype == torch.int64


# ---- greedy --------------------------------------------------------------------------------------

def random_tables(n_tables: int, vocab: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (2.0 * torch.randn(n_tables, vocab, vocab, generator=g, dtype=torch.float64)).log_softmax(-1)


def test_greedy_follows_the_argmax_chain_of_each_sentence():
    tables = random_tables(4, 6, seed=1)
    src = torch.tensor([[0, 5], [1, 2], [2, 2], [3, 4], [1, 1]])
    src_len = torch.tensor([2, 1, 1, 2, 2])
    max_len = 7
    got = greedy_decode(TableModel(tables), src, src_len, bos=BOS, eos=EOS, max_len=max_len)
    for sentence, tokens in zip(src[:, 0].tolist(), got):
        expected, prev = [], BOS
        for _ in range(max_len):
            prev = int(tables[sentence, prev].argmax())
            if prev == EOS:
                break
            expected.append(prev)
        assert tokens == expected
    assert any(len(t) < max_len for t in got) and any(len(t) == max_len for t in got)  # both endings occur


def test_greedy_stops_each_sentence_at_its_own_max_len():
    tables = random_tables(3, 5, seed=2)
    tables[..., EOS] = -50.0  # eos is never the most probable token
    src, src_len = torch.tensor([[0], [1], [2]]), torch.ones(3, dtype=torch.int64)
    max_len = torch.tensor([1, 4, 2])
    got = greedy_decode(TableModel(tables), src, src_len, bos=BOS, eos=EOS, max_len=max_len)
    assert [len(tokens) for tokens in got] == [1, 4, 2]


# ---- beam search ---------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_beam_wide_enough_finds_the_exact_best_outputs(alpha):
    vocab, max_len = 4, 4
    model = TinyGRU(vocab, eos_bias=-0.5, seed=3)
    src, src_len = sources(2, vocab, seed=3)
    k = vocab * (vocab - 1) ** (max_len - 1)  # every candidate of every step fits in the beam
    a, b = 0.0, float(max_len)
    got = beam_search(model, src, src_len, bos=BOS, eos=EOS, beam_size=k, max_len_a=a, max_len_b=b,
                      length_penalty=alpha, n_best=25)
    for i in range(2):
        expected = brute_force(model, src[i:i + 1], src_len[i:i + 1], vocab, max_len, alpha)
        assert_same_hypotheses(got[i], expected[:25])


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("k", [2, 3])
def test_beam_matches_a_plain_reference_of_the_same_rule(k, alpha):
    vocab = 6
    model = TinyGRU(vocab, eos_bias=0.5, seed=4)
    src, src_len = sources(4, vocab, seed=4)
    got = beam_search(model, src, src_len, bos=BOS, eos=EOS, beam_size=k, max_len_a=1.0, max_len_b=2,
                      length_penalty=alpha, n_best=k)
    limits = max_len_for(src_len, 1.0, 2).tolist()
    for i in range(4):
        expected = reference_beam(model, src[i:i + 1], src_len[i:i + 1], k, limits[i], alpha)
        assert_same_hypotheses(got[i], expected[:k])


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.5])
def test_beam_size_one_is_exactly_greedy(alpha):
    vocab = 7
    src, src_len = sources(8, vocab, seed=5)
    limits = max_len_for(src_len, 1.2, 1)
    tied = torch.tensor([0.1, 0.2, 0.2, 0.05, 0.2, 0.2, 0.05], dtype=torch.float64)  # many exact ties
    tables = torch.stack([tied[torch.randperm(vocab, generator=torch.Generator().manual_seed(i))]
                          for i in range(vocab * vocab)]).reshape(vocab, vocab, vocab).log()
    for model in (TinyGRU(vocab, eos_bias=-0.5, seed=5), TableModel(tables)):
        greedy = greedy_decode(model, src, src_len, bos=BOS, eos=EOS, max_len=limits)
        beam = beam_search(model, src, src_len, bos=BOS, eos=EOS, beam_size=1, max_len_a=1.2, max_len_b=1,
                           length_penalty=alpha)
        assert [hyps[0].tokens for hyps in beam] == greedy
        assert {len(t) == limit for t, limit in zip(greedy, limits.tolist())} == {True, False}  # both endings


def test_batching_and_padding_do_not_change_the_outputs():
    vocab = 6
    model = TinyGRU(vocab, eos_bias=0.3, seed=6)
    src, src_len = sources(5, vocab, seed=6)
    batched_beam = beam_search(model, src, src_len, bos=BOS, eos=EOS, beam_size=3, max_len_a=1.0,
                               max_len_b=3, n_best=3)
    batched_greedy = greedy_decode(model, src, src_len, bos=BOS, eos=EOS, max_len=6)
    for i in range(5):
        alone_src, alone_len = src[i:i + 1, :int(src_len[i])], src_len[i:i + 1]  # no padding at all
        alone = beam_search(model, alone_src, alone_len, bos=BOS, eos=EOS, beam_size=3, max_len_a=1.0,
                            max_len_b=3, n_best=3)[0]
        assert_same_hypotheses(batched_beam[i], [(h.tokens, h.score) for h in alone])
        assert greedy_decode(model, alone_src, alone_len, bos=BOS, eos=EOS, max_len=6)[0] == batched_greedy[i]


def test_a_hypothesis_that_ends_early_is_kept_while_the_beam_goes_on():
    # vocabulary: bos 0, eos 1, "a" 2. After bos: eos .5, a .4, bos .1; after a: eos .9, a .05, bos .05
    p = torch.tensor([[[0.1, 0.5, 0.4], [1 / 3, 1 / 3, 1 / 3], [0.05, 0.9, 0.05]]], dtype=torch.float64)
    model, src, src_len = TableModel(p.log()), torch.tensor([[0]]), torch.tensor([1])
    kwargs = dict(bos=BOS, eos=EOS, beam_size=2, max_len_a=0.0, max_len_b=5, n_best=2)
    short, long = beam_search(model, src, src_len, length_penalty=0.0, **kwargs)[0]
    assert (short.tokens, long.tokens) == ([], [2])  # "" (p = .5) beats "a" (p = .4 · .9 = .36)
    assert short.log_prob == pytest.approx(math.log(0.5)) and long.log_prob == pytest.approx(math.log(0.36))
    assert model.steps == 2  # after step 2, two finished and the live ones (≤ .4·.05) cannot beat .36
    # with α = 1, scores are log p / len (len counts eos): "a" −1.02/2 beats "" −0.69/1
    best = beam_search(model, src, src_len, length_penalty=1.0, **kwargs)[0]
    assert [h.tokens for h in best] == [[2], []]
    assert best[0].score == pytest.approx(math.log(0.36) / 2) and best[1].score == pytest.approx(math.log(0.5))


def test_the_stopping_bound_lets_a_longer_hypothesis_in_after_k_have_finished():
    # vocabulary: bos 0, eos 1, a 2, b 3, d 4; a Markov chain (rows: previous token).
    # With α = 1 and K = 2: "" (−0.80) and "a" (log .45 / 2 = −0.40) finish by step 2, when the
    # live "a b" has log p = log .05 ≈ −3.0. A bound of lp/(t+1) = −1.0 would stop there, but
    # "a b d" ends at log(.05 · .99²)/4 ≈ −0.754 and beats "" — the bound must allow for length.
    p = torch.tensor([[.04, .45, .5, .005, .005],
                      [.2, .2, .2, .2, .2],
                      [0, .9, 0, .1, 0],
                      [.005, .005, 0, 0, .99],
                      [.01, .99, 0, 0, 0]], dtype=torch.float64)
    model, src, src_len = TableModel(p.log()[None]), torch.tensor([[0]]), torch.tensor([1])
    got = beam_search(model, src, src_len, bos=BOS, eos=EOS, beam_size=2, max_len_a=0.0, max_len_b=10,
                      length_penalty=1.0, n_best=2)[0]
    assert [h.tokens for h in got] == [[2], [2, 3, 4]]
    assert got[1].score == pytest.approx(math.log(0.5 * 0.1 * 0.99 * 0.99) / 4)


def test_hypotheses_reaching_max_len_are_scored_as_they_stand():
    tables = random_tables(2, 5, seed=7)
    tables[..., EOS] = -math.inf  # eos is impossible: every hypothesis is cut
    src, src_len = torch.tensor([[0, 0, 0], [1, 0, 0]]), torch.tensor([1, 3])
    got = beam_search(TableModel(tables), src, src_len, bos=BOS, eos=EOS, beam_size=3, max_len_a=2.0,
                      max_len_b=0, length_penalty=0.8, n_best=3)
    for hyps, limit in zip(got, [2, 6]):
        assert len(hyps) == 3
        for h in hyps:
            assert len(h.tokens) == limit and not h.finished
            assert h.score == pytest.approx(h.log_prob / limit ** 0.8)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_n_best_are_sorted_and_their_scores_are_the_models_log_probs(alpha):
    vocab = 7
    model = TinyGRU(vocab, eos_bias=0.5, seed=8)
    src, src_len = sources(6, vocab, seed=8)
    got = beam_search(model, src, src_len, bos=BOS, eos=EOS, beam_size=4, max_len_a=1.0, max_len_b=2,
                      length_penalty=alpha, n_best=4)
    limits = max_len_for(src_len, 1.0, 2).tolist()
    for i, hyps in enumerate(got):
        assert len(hyps) == 4
        assert all(a.score >= b.score for a, b in zip(hyps, hyps[1:]))
        assert len({tuple(h.tokens) for h in hyps}) == 4  # four different outputs
        sequences = [h.tokens + [EOS] if h.finished else h.tokens for h in hyps]
        log_probs = sequence_log_probs(model, src[i:i + 1], src_len[i:i + 1], sequences)
        for h, seq, lp in zip(hyps, sequences, log_probs):
            assert len(seq) <= limits[i] and (h.finished or len(seq) == limits[i])
            assert EOS not in h.tokens
            assert h.log_prob == pytest.approx(lp, rel=1e-12)
            assert h.score == pytest.approx(lp / len(seq) ** alpha, rel=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_stopping_early_changes_nothing_in_the_k_best(alpha):
    vocab = 6
    src, src_len = sources(6, vocab, seed=9)
    kwargs = dict(bos=BOS, eos=EOS, beam_size=3, max_len_a=1.0, max_len_b=12, length_penalty=alpha, n_best=3)
    early_model, full_model = TinyGRU(vocab, eos_bias=2.0, seed=9), TinyGRU(vocab, eos_bias=2.0, seed=9)
    early = beam_search(early_model, src, src_len, **kwargs)
    full = beam_search(full_model, src, src_len, stop_early=False, **kwargs)
    for got, expected in zip(early, full):
        assert_same_hypotheses(got, [(h.tokens, h.score) for h in expected])
    assert early_model.steps < full_model.steps  # the rule did stop some sentences early


def test_bad_arguments_are_rejected():
    model = TableModel(random_tables(1, 4))
    src, src_len = torch.zeros((2, 3), dtype=torch.int64), torch.tensor([3, 2])
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, src, src_len, bos=BOS, eos=EOS, beam_size=0)
    with pytest.raises(ValueError, match="n_best"):
        beam_search(model, src, src_len, bos=BOS, eos=EOS, beam_size=2, n_best=3)
    with pytest.raises(ValueError, match="src_len"):
        beam_search(model, src, src_len[:1], bos=BOS, eos=EOS)
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(model, src, src_len, bos=BOS, eos=EOS, max_len=0)
