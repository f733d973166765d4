"""Twin tests: the library side's FusedMultiHeadAttention (F.scaled_dot_product_attention inside)
against the hand-written MultiHeadAttention it extends, float64, same weights: outputs, weights,
and the gradients of every input and parameter."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from divelab.models.attention import FusedMultiHeadAttention
from divelab.scratch.attention import MultiHeadAttention

pytestmark = pytest.mark.twin

ATOL, RTOL = 1e-10, 1e-7


def _randn(*shape: int, seed: int) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _pair(E: int = 12, h: int = 3) -> tuple[MultiHeadAttention, FusedMultiHeadAttention]:
    torch.manual_seed(0)
    mine = MultiHeadAttention(E, h).double()
    with torch.no_grad():  # non-zero biases, so a bias in the wrong place shows
        for p in mine.parameters():
            p.add_(0.1 * torch.randn_like(p))
    fused = FusedMultiHeadAttention(E, h).double()
    fused.load_state_dict(mine.state_dict())
    return mine, fused


@pytest.mark.parametrize("case", ["padding", "causal", "cross"])
def test_fused_attention_is_a_twin_of_the_hand_written_one(case: str) -> None:
    mine, fused = _pair()
    x, memory = _randn(3, 5, 12, seed=1), _randn(3, 7, 12, seed=2)
    kpm = torch.arange(7 if case == "cross" else 5) >= torch.tensor([5, 2, 4])[:, None]  # True = padding
    upstream = _randn(3, 5, 12, seed=3)
    results = []
    for module in (mine, fused):
        module.zero_grad()
        q = x.clone().requires_grad_(True)
        kv = memory.clone().requires_grad_(True) if case == "cross" else q
        out, weights = module(q, kv, kv, key_padding_mask=kpm, is_causal=case == "causal")
        assert weights is None
        (out * upstream).sum().backward()
        grads = [q.grad] + ([kv.grad] if case == "cross" else []) + [p.grad for p in module.parameters()]
        results.append((out, grads))
    (out, grads), (f_out, f_grads) = results
    torch.testing.assert_close(f_out, out, atol=ATOL, rtol=RTOL)
    for a, b in zip(f_grads, grads):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=RTOL)


def test_fused_attention_calls_the_kernel_and_falls_back_when_weights_are_asked_for(monkeypatch) -> None:
    calls: list[int] = []
    original = F.scaled_dot_product_attention
    monkeypatch.setattr(F, "scaled_dot_product_attention", lambda *a, **k: calls.append(1) or original(*a, **k))
    mine, fused = _pair()
    x = _randn(2, 4, 12, seed=4)
    fused(x, x, x)
    assert calls == [1]
    out, weights = fused(x, x, x, need_weights=True, average_attn_weights=False)
    assert calls == [1] and weights is not None and weights.shape == (2, 3, 4, 4)
    m_out, m_weights = mine(x, x, x, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(out, m_out, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(weights, m_weights, atol=ATOL, rtol=RTOL)


def test_fused_attention_with_a_cache_matches_the_full_causal_computation() -> None:
    """Incremental decoding: one step at a time with a cache gives the rows of the full causal call."""
    _, fused = _pair()
    x = _randn(2, 5, 12, seed=5)
    full, _ = fused(x, x, x, is_causal=True)
    cache: dict = {}
    steps = [fused(x[:, t:t + 1], x[:, t:t + 1], x[:, t:t + 1], cache=cache, is_causal=True)[0] for t in range(5)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=ATOL, rtol=RTOL)
