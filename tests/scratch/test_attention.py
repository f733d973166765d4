"""Twin tests for scratch attention against torch.softmax, F.scaled_dot_product_attention and nn.MultiheadAttention.

Everything runs in float64 with the shared helper's tolerances (``atol=1e-10, rtol=1e-7``)
on values and gradients (inputs, masks and, for the layers, every parameter): a wrong
scale, a mask read the wrong way round or a head mixed up moves results by O(0.1).
Incremental decoding with a cache is compared with the full causal computation, position
by position.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.scratch.attention import (AdditiveAttention, DotProductAttention, MultiHeadAttention, PositionalEncoding,
                                       causal_mask, masked_softmax, scaled_dot_product_attention, sinusoidal_encoding)
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

ATOL, RTOL = 1e-10, 1e-7


def _randn(*shape: int, seed: int) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _hand_masked_softmax(scores: Tensor, keep: Tensor) -> Tensor:
    return torch.softmax(scores.masked_fill(~keep, -math.inf), dim=-1)


# ---- masked softmax -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, valid_len", [
    ((2, 3, 5), [2, 5]),                                  # (B,) lengths, one per example
    ((2, 3, 5), [[1, 3, 5], [2, 2, 4]]),                  # (B, q) lengths, one per query
    ((2, 4, 3, 5), [3, 1]),                               # extra head axis, (B,)
    ((2, 4, 3, 5), [[5, 1, 2], [3, 3, 3]]),               # extra head axis, (B, q)
    ((3, 6), [1, 6, 4]),                                  # (B, k) scores
])
def test_masked_softmax_matches_a_hand_masked_softmax(shape, valid_len) -> None:
    scores, lengths = _randn(*shape, seed=1), torch.tensor(valid_len)
    keep = torch.arange(shape[-1]) < (lengths.reshape(-1, *(1,) * (len(shape) - 1)) if lengths.dim() == 1
                                      else lengths.reshape(shape[0], *(1,) * (len(shape) - 3), shape[-2], 1))
    out = assert_twin(lambda s: masked_softmax(s, lengths), lambda s: _hand_masked_softmax(s, keep), scores)
    assert torch.all(out.masked_select(~keep.expand(shape)) == 0)
    torch.testing.assert_close(out.sum(-1), torch.ones(shape[:-1], dtype=torch.float64))


def test_masked_softmax_course_example() -> None:
    """d2l: ``masked_softmax(rand(2, 2, 4), [2, 3])`` keeps 2 then 3 columns."""
    out = masked_softmax(torch.rand(2, 2, 4), torch.tensor([2, 3]))
    assert torch.all(out[0, :, 2:] == 0) and torch.all(out[1, :, 3:] == 0)
    assert torch.all(out[0, :, :2] > 0) and torch.all(out[1, :, :3] > 0)


def test_masked_softmax_without_lengths_is_softmax() -> None:
    assert_twin(lambda s: masked_softmax(s, None), lambda s: torch.softmax(s, dim=-1), _randn(2, 3, 4, seed=2))


def test_a_row_with_no_valid_key_is_zero_with_zero_gradient() -> None:
    """valid_len 0: weights 0 (not NaN, not d2l's uniform), and the gradient through the row is 0."""
    scores = _randn(2, 3, 4, seed=3).requires_grad_(True)
    out = masked_softmax(scores, torch.tensor([[0, 2, 4], [1, 0, 0]]))
    assert torch.all(out[0, 0] == 0) and torch.all(out[1, 1:] == 0)
    out.backward(_randn(2, 3, 4, seed=4))
    assert torch.isfinite(scores.grad).all() and torch.all(scores.grad[0, 0] == 0)
    keep = torch.tensor([[True, True, False, False]])
    torch.testing.assert_close(out[0, 1], _hand_masked_softmax(scores[0, 1].detach(), keep)[0])


@pytest.mark.parametrize("valid_len", [torch.tensor([1, 2, 3]), torch.tensor([[1, 2]]), torch.ones(2, 3, 1)])
def test_masked_softmax_rejects_lengths_of_the_wrong_shape(valid_len) -> None:
    with pytest.raises(ValueError, match="valid_len must have shape"):
        masked_softmax(torch.randn(2, 3, 4), valid_len)


# ---- scaled dot-product attention -------------------------------------------------------------------

def _qkv(L: int, S: int, d: int = 4, d_v: int = 3, batch: tuple[int, ...] = (2, 3), seed: int = 0) -> list[Tensor]:
    return [_randn(*batch, L, d, seed=seed), _randn(*batch, S, d, seed=seed + 1), _randn(*batch, S, d_v, seed=seed + 2)]


def _random_keep(shape: tuple[int, ...], seed: int, p: float = 0.6) -> Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < p


@pytest.mark.parametrize("L, S", [(5, 5), (3, 7), (6, 2), (1, 4)])
@pytest.mark.parametrize("mask_shape", [None, "LS", "B11S", "BhLS"])
def test_sdpa_with_boolean_masks_matches_torch(L, S, mask_shape) -> None:
    q, k, v = _qkv(L, S)
    shapes = {None: None, "LS": (L, S), "B11S": (2, 1, 1, S), "BhLS": (2, 3, L, S)}
    mask = None if mask_shape is None else _random_keep(shapes[mask_shape], seed=L * S)
    out = assert_twin(lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=mask),
                      lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), q, k, v)
    assert out.shape == (2, 3, L, 3)


def test_sdpa_with_a_float_mask_matches_torch_including_its_gradient() -> None:
    q, k, v = _qkv(4, 6)
    mask = _randn(4, 6, seed=9).masked_fill(~_random_keep((4, 6), seed=10), -math.inf)
    mask[2] = -math.inf                                  # one query that may attend to nothing
    out = assert_twin(lambda q, k, v, m: scaled_dot_product_attention(q, k, v, attn_mask=m),
                      lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), q, k, v, mask)
    assert torch.all(out[..., 2, :] == 0)


def test_sdpa_query_with_no_key_gets_zero_output_and_gradient_like_torch() -> None:
    q, k, v = _qkv(3, 4)
    keep = torch.ones(3, 4, dtype=torch.bool)
    keep[1] = False
    out = assert_twin(lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=keep),
                      lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep), q, k, v)
    assert torch.all(out[..., 1, :] == 0)


@pytest.mark.parametrize("L, S", [(5, 5), (3, 7), (7, 3)])
def test_sdpa_is_causal_matches_torch(L, S) -> None:
    """torch's is_causal is top-left aligned (query i sees keys ≤ i) even when L ≠ S."""
    assert_twin(lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True),
                lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), *_qkv(L, S))


def test_sdpa_custom_scale_and_unbatched_inputs_match_torch() -> None:
    q, k, v = _qkv(4, 5, batch=())
    assert_twin(lambda q, k, v: scaled_dot_product_attention(q, k, v, scale=0.3),
                lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3), q, k, v)


def test_sdpa_with_a_broadcast_per_example_mask_matches_torch() -> None:
    q, k, v = _qkv(4, 6)
    mask = _random_keep((2, 1, 4, 6), seed=11)           # one mask per example, shared by the heads
    assert_twin(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask),
                lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask), q, k, v)


def test_the_scratch_attention_never_calls_torchs_kernel(monkeypatch) -> None:
    """The twins above would pass vacuously if the scratch side called torch's kernel: forbid it."""
    def refuse(*args, **kwargs):
        raise AssertionError("scratch attention called F.scaled_dot_product_attention")

    monkeypatch.setattr(F, "scaled_dot_product_attention", refuse)
    q, k, v = _qkv(4, 6)
    scaled_dot_product_attention(q, k, v, is_causal=True)
    mine, _ = _mha_pair(12)
    x = _randn(2, 5, 12, seed=3)
    mine(x, x, x, is_causal=True)


def test_sdpa_dropout_drops_weights_and_keeps_the_mean() -> None:
    q, k, v = _qkv(8, 8, batch=(400,))
    full = scaled_dot_product_attention(q, k, v)
    torch.manual_seed(0)
    dropped = scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert not torch.allclose(dropped, full)
    assert (dropped.mean(0) - full.mean(0)).abs().max() < 0.1     # E[dropout(α)] = α; 400 samples
    assert torch.all(scaled_dot_product_attention(q, k, v, dropout_p=1.0) == 0)


def test_causal_mask_alignments() -> None:
    assert torch.equal(causal_mask(2, 4), torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0]], dtype=torch.bool))
    assert torch.equal(causal_mask(2, 4, aligned="bottom_right"),
                       torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool))
    assert torch.equal(causal_mask(3, 3), causal_mask(3, 3, aligned="bottom_right"))


@pytest.mark.parametrize("call, message", [
    (lambda: scaled_dot_product_attention(*_qkv(2, 2), attn_mask=torch.ones(2, 2, dtype=torch.bool), is_causal=True),
     "either attn_mask or is_causal"),
    (lambda: scaled_dot_product_attention(torch.randn(2, 3), torch.randn(4, 5), torch.randn(4, 5)), "need q"),
    (lambda: scaled_dot_product_attention(*_qkv(2, 2), attn_mask=torch.ones(2, 2, dtype=torch.int64)),
     "boolean .* or floating"),
    (lambda: causal_mask(2, 3, aligned="left"), "aligned must be"),
])
def test_sdpa_bad_arguments(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# ---- the course's attention layers -------------------------------------------------------------

def _lengths_keep(valid_len: Tensor, S: int) -> Tensor:
    """Boolean keep-mask for (B, q, S) scores from (B,) or (B, q) lengths."""
    lengths = valid_len[:, None, None] if valid_len.dim() == 1 else valid_len[:, :, None]
    return torch.arange(S) < lengths


@pytest.mark.parametrize("valid_len", [None, torch.tensor([2, 6]), torch.tensor([[1, 6, 3], [4, 4, 2]])])
def test_dot_product_attention_matches_torch_sdpa(valid_len) -> None:
    attention = DotProductAttention(dropout=0.5).eval()
    keep = None if valid_len is None else _lengths_keep(valid_len, 6)
    q, k, v = _qkv(3, 6, d=5, d_v=4, batch=(2,))
    assert_twin(lambda q, k, v: attention(q, k, v, valid_len),
                lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep), q, k, v)
    weights = attention.attention_weights
    assert weights.shape == (2, 3, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, dtype=torch.float64))
    if keep is not None:
        assert torch.all(weights.masked_select(~keep) == 0)


def test_additive_attention_equals_its_formula_with_nn_linear() -> None:
    """a(q, k) = w_vᵀ tanh(W_q q + W_k k), on d2l's toy shapes (query 20, key 2, hidden 8, lengths 2 and 6)."""
    torch.manual_seed(0)
    attention = AdditiveAttention(key_size=2, query_size=20, num_hiddens=8).double().eval()
    W_q, W_k, w_v = (nn.Linear(*p.shape[::-1], bias=False).double() for p in (attention.W_q, attention.W_k,
                                                                                attention.w_v))
    for layer, p in zip((W_q, W_k, w_v), (attention.W_q, attention.W_k, attention.w_v)):
        layer.weight.data.copy_(p.data)
    valid_len = torch.tensor([2, 6])
    keep = _lengths_keep(valid_len, 10)

    def reference(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        scores = w_v(torch.tanh(W_q(q)[:, :, None] + W_k(k)[:, None])).squeeze(-1)
        return _hand_masked_softmax(scores, keep) @ v

    q, k, v = _randn(2, 1, 20, seed=5), _randn(2, 10, 2, seed=6), _randn(2, 10, 4, seed=7)
    out = assert_twin(lambda q, k, v: attention(q, k, v, valid_len), reference, q, k, v)
    assert out.shape == (2, 1, 4)
    weights = attention.attention_weights
    assert torch.all(weights[0, :, 2:] == 0) and torch.all(weights[1, :, 6:] == 0)
    for p, layer in zip((attention.W_q, attention.W_k, attention.w_v), (W_q, W_k, w_v)):
        assert p.shape == layer.weight.shape


def test_additive_attention_weights_are_drawn_like_nn_linear() -> None:
    torch.manual_seed(3)
    attention = AdditiveAttention(key_size=2, query_size=20, num_hiddens=8)
    torch.manual_seed(3)
    expected = [nn.Linear(n_in, n_out, bias=False).weight for n_in, n_out in ((2, 8), (20, 8), (8, 1))]
    for p, w in zip((attention.W_k, attention.W_q, attention.w_v), expected):
        assert torch.equal(p, w)


# ---- multi-head attention ---------------------------------------------------------------------------

def _mha_pair(E: int = 12, h: int = 3, bias: bool = True, seed: int = 0) -> tuple[MultiHeadAttention, nn.Module]:
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(E, h, bias=bias, batch_first=True).double()
    with torch.no_grad():                 # non-zero biases, so a bias in the wrong place shows
        for p in theirs.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return MultiHeadAttention.from_torch(theirs), theirs


def _assert_mha_twin(mine: MultiHeadAttention, theirs: nn.Module, inputs: list[Tensor], mine_kwargs: dict,
                     torch_kwargs: dict, self_attention: bool) -> tuple[Tensor, Tensor | None]:
    """Outputs (and weights) equal; then gradients of every input and parameter equal."""
    sides = []
    for module, kwargs in ((mine, mine_kwargs), (theirs, torch_kwargs)):
        module.zero_grad()
        leaves = [x.clone().requires_grad_(True) for x in inputs]
        q, k, v = (leaves[0],) * 3 if self_attention else leaves
        out, weights = module(q, k, v, **kwargs)
        sides.append((out, weights, leaves))
    (out, weights, leaves), (t_out, t_weights, t_leaves) = sides
    torch.testing.assert_close(out, t_out, atol=ATOL, rtol=RTOL)
    assert (weights is None) == (t_weights is None)
    loss_upstream = _randn(*out.shape, seed=99)
    total, t_total = (out * loss_upstream).sum(), (t_out * loss_upstream).sum()
    if weights is not None:
        torch.testing.assert_close(weights, t_weights, atol=ATOL, rtol=RTOL)
        w_upstream = _randn(*weights.shape, seed=98)
        total, t_total = total + (weights * w_upstream).sum(), t_total + (t_weights * w_upstream).sum()
    total.backward()
    t_total.backward()
    for a, b in zip(leaves, t_leaves):
        torch.testing.assert_close(a.grad, b.grad, atol=ATOL, rtol=RTOL)
    for (name, p), q in zip(mine.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=ATOL, rtol=RTOL, msg=lambda m, name=name: f"{name}: {m}")
    return out, weights


@pytest.mark.parametrize("self_attention", [True, False])
@pytest.mark.parametrize("padding, causal, need_weights, average", [
    (False, False, False, True),
    (True, False, False, True),
    (False, True, False, True),
    (True, True, True, True),
    (True, False, True, False),
    (False, True, True, False),
])
def test_multihead_attention_matches_torch(self_attention, padding, causal, need_weights, average) -> None:
    B, L, S, E = 3, 5, 5 if self_attention else 7, 12
    mine, theirs = _mha_pair(E)
    inputs = [_randn(B, L, E, seed=1)] if self_attention else [_randn(B, L, E, seed=1), _randn(B, S, E, seed=2),
                                                                 _randn(B, S, E, seed=3)]
    kwargs: dict = {"need_weights": need_weights, "average_attn_weights": average}
    mine_kwargs, torch_kwargs = dict(kwargs), dict(kwargs)
    if padding:
        kpm = torch.arange(S) >= torch.tensor([S, 2, 4])[:, None]        # True = padding
        mine_kwargs["key_padding_mask"] = torch_kwargs["key_padding_mask"] = kpm
    if causal:
        keep = causal_mask(L, S)
        mine_kwargs["attn_mask"], torch_kwargs["attn_mask"] = keep, ~keep  # torch's boolean mask: True = blocked
    out, weights = _assert_mha_twin(mine, theirs, inputs, mine_kwargs, torch_kwargs, self_attention)
    assert out.shape == (B, L, E)
    if need_weights:
        assert weights.shape == ((B, L, S) if average else (B, 3, L, S))


def test_multihead_attention_float_and_per_head_masks_match_torch() -> None:
    B, L, E, h = 2, 4, 8, 2
    mine, theirs = _mha_pair(E, h, seed=4)
    float_mask = _randn(L, L, seed=5)
    _assert_mha_twin(mine, theirs, [_randn(B, L, E, seed=6)], {"attn_mask": float_mask, "need_weights": True},
                     {"attn_mask": float_mask}, self_attention=True)
    keep = _random_keep((B * h, L, L), seed=7, p=0.7) | torch.eye(L, dtype=torch.bool)   # torch's (B·h, L, S) layout
    _assert_mha_twin(mine, theirs, [_randn(B, L, E, seed=8)], {"attn_mask": keep}, {"attn_mask": ~keep,
                     "need_weights": False}, self_attention=True)
    float_padding = torch.zeros(B, L, dtype=torch.float64)
    float_padding[1, 2:] = -math.inf
    _assert_mha_twin(mine, theirs, [_randn(B, L, E, seed=9)], {"key_padding_mask": float_padding},
                     {"key_padding_mask": float_padding, "need_weights": False}, self_attention=True)


def test_multihead_attention_without_bias_matches_torch() -> None:
    mine, theirs = _mha_pair(8, 4, bias=False)
    assert mine.in_proj_bias is None and mine.out_proj.bias is None
    _assert_mha_twin(mine, theirs, [_randn(2, 3, 8, seed=1)], {}, {"need_weights": False}, self_attention=True)


def test_multihead_attention_init_equals_torch_from_the_same_seed() -> None:
    torch.manual_seed(5)
    mine = MultiHeadAttention(16, 4)
    torch.manual_seed(5)
    theirs = nn.MultiheadAttention(16, 4, batch_first=True)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    for (name, p), q in zip(mine.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(p, q), name
    assert torch.all(mine.in_proj_bias == 0) and mine.in_proj_weight.std() > 0


def test_a_fully_padded_example_gives_zeros_not_nan() -> None:
    """torch's need_weights=True path gives NaN here; F.sdpa (and divelab) give 0 before the output projection."""
    mine, theirs = _mha_pair(8, 2)
    x = _randn(2, 3, 8, seed=1)
    kpm = torch.tensor([[False, False, True], [True, True, True]])
    out, weights = mine(x, x, x, key_padding_mask=kpm, need_weights=True)
    assert torch.all(weights[1] == 0) and torch.isfinite(out).all()
    torch.testing.assert_close(out[1], mine.out_proj.bias.expand(3, 8))
    torch.testing.assert_close(out, theirs(x, x, x, key_padding_mask=kpm, need_weights=False)[0], atol=ATOL, rtol=RTOL)
    assert torch.isnan(theirs(x, x, x, key_padding_mask=kpm)[0][1]).all()


def test_incremental_self_attention_with_cache_equals_full_causal_attention() -> None:
    mine, _ = _mha_pair(12)
    B, T = 2, 6
    x = _randn(B, T, 12, seed=3)
    full, _ = mine(x, x, x, is_causal=True)
    cache: dict = {}
    for t in range(T):
        step = x[:, t: t + 1]
        out, weights = mine(step, step, step, cache=cache, need_weights=True)
        assert cache["k"].shape == cache["v"].shape == (B, 3, t + 1, 4)
        assert weights.shape == (B, 1, t + 1)
        torch.testing.assert_close(out[:, 0], full[:, t], atol=ATOL, rtol=RTOL)
    # two steps at once after a prefix: the causal mask is aligned to the end of the cache
    cache = {}
    mine(x[:, :3], x[:, :3], x[:, :3], cache=cache, is_causal=True)
    rest, _ = mine(x[:, 3:], x[:, 3:], x[:, 3:], cache=cache, is_causal=True)
    torch.testing.assert_close(rest, full[:, 3:], atol=ATOL, rtol=RTOL)


def test_static_cache_computes_cross_attention_keys_once() -> None:
    mine, _ = _mha_pair(12)
    memory, y = _randn(2, 7, 12, seed=4), _randn(2, 3, 12, seed=5)
    kpm = torch.arange(7) >= torch.tensor([7, 3])[:, None]
    full, _ = mine(y, memory, memory, key_padding_mask=kpm)
    cache: dict = {"static": True}
    first, _ = mine(y[:, :1], memory, memory, key_padding_mask=kpm, cache=cache)
    keys = cache["k"]
    rest, _ = mine(y[:, 1:], None, None, key_padding_mask=kpm, cache=cache)
    assert cache["k"] is keys and keys.shape == (2, 3, 7, 4)
    torch.testing.assert_close(torch.cat([first, rest], 1), full, atol=ATOL, rtol=RTOL)


def test_multihead_attention_dropout_only_in_training() -> None:
    mine = MultiHeadAttention(8, 2, dropout=0.5).double()
    x = _randn(2, 4, 8, seed=1)
    torch.manual_seed(0)
    train_out = mine(x, x, x)[0]
    mine.eval()
    eval_out = mine(x, x, x)[0]
    assert not torch.allclose(train_out, eval_out)
    torch.testing.assert_close(eval_out, mine(x, x, x)[0], atol=0, rtol=0)


@pytest.mark.parametrize("call, message", [
    (lambda m: MultiHeadAttention(10, 3), "positive multiple of num_heads"),
    (lambda m: MultiHeadAttention(8, 2, dropout=1.5), "dropout must be"),
    (lambda m: m(torch.randn(2, 3, 8), None, None), "key and value are needed"),
    (lambda m: m(*[torch.randn(2, 3, 6)] * 3), r"query must have shape \(B, L, 8\)"),
    (lambda m: m(*[torch.randn(2, 3, 8)] * 3, key_padding_mask=torch.zeros(2, 4, dtype=torch.bool)),
     "key_padding_mask must have shape"),
    (lambda m: m(*[torch.randn(2, 3, 8)] * 3, attn_mask=torch.ones(3, 3, 3, dtype=torch.bool)), "attn_mask must have"),
    (lambda m: MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, add_zero_attn=True)), "add_zero_attn"),
])
def test_multihead_attention_bad_arguments(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call(MultiHeadAttention(8, 2))


# ---- positional encoding -----------------------------------------------------------------------

def test_sinusoidal_encoding_follows_its_formula() -> None:
    P = sinusoidal_encoding(50, 8)
    t, i = 37, 2
    assert P[t, 2 * i].item() == pytest.approx(math.sin(t / 10000 ** (2 * i / 8)), abs=1e-14)
    assert P[t, 2 * i + 1].item() == pytest.approx(math.cos(t / 10000 ** (2 * i / 8)), abs=1e-14)
    assert torch.equal(P[0], torch.tensor([0.0, 1.0] * 4, dtype=torch.float64))
    odd = sinusoidal_encoding(10, 5)                    # an odd width keeps the last sine column
    assert odd.shape == (10, 5)
    torch.testing.assert_close(odd[:, 4], torch.sin(torch.arange(10.0, dtype=torch.float64) / 10000 ** (4 / 5)))


def test_a_shift_in_position_is_a_linear_map() -> None:
    """P[t + k] = P[t] M_k for one block-rotation matrix M_k, whatever t."""
    d, k = 16, 5
    P = sinusoidal_encoding(200, d)
    omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    M = torch.zeros(d, d, dtype=torch.float64)
    for i, w in enumerate(omega):
        c, s = math.cos(k * w), math.sin(k * w)
        M[2 * i: 2 * i + 2, 2 * i: 2 * i + 2] = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    torch.testing.assert_close(P[:-k] @ M, P[k:], atol=1e-12, rtol=0)


def test_positional_encoding_adds_the_rows_at_the_offset() -> None:
    pe = PositionalEncoding(8, dropout=0.5, max_len=20).double().eval()
    x = _randn(2, 6, 8, seed=1)
    torch.testing.assert_close(pe(x) - x, sinusoidal_encoding(6, 8).expand(2, 6, 8), atol=1e-7, rtol=0)
    torch.testing.assert_close(pe(x[:, 3:5], offset=3), pe(x)[:, 3:5], atol=0, rtol=0)
    assert "P" not in pe.state_dict()
    pe.train()
    assert not torch.allclose(pe(x), pe.eval()(x))
    with pytest.raises(ValueError, match="outside"):
        pe(x, offset=15)


# ---- wrong arguments fail at the door, by name ---------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: masked_softmax([[0.1, 0.2, 0.3]]), "masked_softmax(): argument 'scores' must be a Tensor, not list"),
    (lambda: masked_softmax(torch.rand(2, 3, 4), [2, 3]),
     "masked_softmax(): argument 'valid_len' must be a Tensor or None, not list"),
    (lambda: scaled_dot_product_attention(torch.rand(2, 3, 4), [[0.0] * 4] * 3, torch.rand(2, 3, 4)),
     "scaled_dot_product_attention(): argument 'k' must be a Tensor, not list"),
    (lambda: scaled_dot_product_attention(*_qkv(3, 3), attn_mask=[[True] * 3] * 3),
     "scaled_dot_product_attention(): argument 'attn_mask' must be a Tensor or None, not list"),
])
def test_arguments_that_are_not_tensors_are_type_errors_naming_them(call, message) -> None:
    with pytest.raises(TypeError) as error:
        call()
    assert str(error.value) == message
