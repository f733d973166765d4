"""Twin tests for the scratch Transformer layers against nn.TransformerEncoderLayer / nn.TransformerDecoderLayer.

Weights are copied from the torch layer (``batch_first=True``, dropout 0, activation ReLU),
perturbed first so that no parameter keeps its zero or one initial value; outputs and the
gradients of the inputs and of every parameter are compared in float64
(``atol=1e-10, rtol=1e-7``), for post-norm and pre-norm, with padding and causal masks.
The decoder's cached step-by-step output is compared with its full causal output.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divelab.scratch.attention import causal_mask
from divelab.scratch.transformer import LayerNorm, TransformerDecoderLayer, TransformerEncoderLayer, layer_norm
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

ATOL, RTOL = 1e-10, 1e-7
D, H, FF = 12, 3, 20


def _randn(*shape: int, seed: int) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _perturbed(module: nn.Module, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    module = module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return module


def _padding(lengths: list[int], size: int) -> Tensor:
    """(B, size) True at padding."""
    return torch.arange(size) >= torch.tensor(lengths)[:, None]


def _assert_layers_twin(mine: nn.Module, theirs: nn.Module, inputs: list[Tensor], mine_kwargs: dict,
                        torch_kwargs: dict) -> Tensor:
    sides = []
    for module, kwargs in ((mine, mine_kwargs), (theirs, torch_kwargs)):
        module.zero_grad()
        leaves = [x.clone().requires_grad_(True) for x in inputs]
        sides.append((module(*leaves, **kwargs), leaves))
    (out, leaves), (t_out, t_leaves) = sides
    torch.testing.assert_close(out, t_out, atol=ATOL, rtol=RTOL)
    upstream = _randn(*out.shape, seed=99)
    out.backward(upstream)
    t_out.backward(upstream)
    for a, b in zip(leaves, t_leaves):
        torch.testing.assert_close(a.grad, b.grad, atol=ATOL, rtol=RTOL)
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for (name, p), q in zip(mine.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=ATOL, rtol=RTOL, msg=lambda m, name=name: f"{name}: {m}")
    return out


# ---- layer norm ------------------------------------------------------------------------------------

def test_layer_norm_matches_torch() -> None:
    x, w, b = _randn(3, 4, 7, seed=1), _randn(7, seed=2), _randn(7, seed=3)
    assert_twin(lambda x, w, b: layer_norm(x, w, b), lambda x, w, b: F.layer_norm(x, (7,), w, b), x, w, b)
    assert_twin(lambda x: layer_norm(x, None, None, eps=1e-3), lambda x: F.layer_norm(x, (7,), eps=1e-3), x)
    assert_twin(LayerNorm(7), nn.LayerNorm(7).double(), x)


# ---- encoder layer ------------------------------------------------------------------------------------

def _encoder_pair(norm_first: bool) -> tuple[TransformerEncoderLayer, nn.Module]:
    theirs = _perturbed(nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=True, norm_first=norm_first), 1)
    mine = TransformerEncoderLayer(D, H, FF, norm_first=norm_first).double()
    mine.load_state_dict(theirs.state_dict())
    return mine, theirs


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("masks", ["none", "padding", "causal", "both", "float"])
def test_encoder_layer_matches_torch(norm_first, masks) -> None:
    mine, theirs = _encoder_pair(norm_first)
    L = 5
    mine_kwargs: dict = {}
    torch_kwargs: dict = {}
    if masks in ("padding", "both"):
        mine_kwargs["src_key_padding_mask"] = torch_kwargs["src_key_padding_mask"] = _padding([5, 2, 4], L)
    if masks in ("causal", "both"):
        keep = causal_mask(L, L)
        mine_kwargs["src_mask"], torch_kwargs["src_mask"] = keep, ~keep   # torch's boolean mask: True = blocked
    if masks == "float":
        mine_kwargs["src_mask"] = torch_kwargs["src_mask"] = _randn(L, L, seed=4)
    out = _assert_layers_twin(mine, theirs, [_randn(3, L, D, seed=5)], mine_kwargs, torch_kwargs)
    assert out.shape == (3, L, D)


def test_encoder_layer_is_causal_equals_the_causal_mask() -> None:
    mine, _ = _encoder_pair(False)
    x = _randn(2, 4, D, seed=6)
    torch.testing.assert_close(mine(x, is_causal=True), mine(x, src_mask=causal_mask(4, 4)), atol=0, rtol=0)


def test_encoder_layer_init_equals_torch_from_the_same_seed() -> None:
    torch.manual_seed(7)
    mine = TransformerEncoderLayer(16, 4, 32, norm_first=True)
    torch.manual_seed(7)
    theirs = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, norm_first=True)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    for (name, p), q in zip(mine.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(p, q), name


def test_encoder_layer_keeps_per_head_weights_when_asked() -> None:
    mine, _ = _encoder_pair(False)
    padding = _padding([4, 2], 4)
    mine(_randn(2, 4, D, seed=8), src_key_padding_mask=padding, need_weights=True)
    weights = mine.self_attn_weights
    assert weights.shape == (2, H, 4, 4)
    assert torch.all(weights[1, :, :, 2:] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, H, 4, dtype=torch.float64))


# ---- decoder layer ------------------------------------------------------------------------------------

def _decoder_pair(norm_first: bool) -> tuple[TransformerDecoderLayer, nn.Module]:
    theirs = _perturbed(nn.TransformerDecoderLayer(D, H, FF, dropout=0.0, batch_first=True, norm_first=norm_first), 2)
    mine = TransformerDecoderLayer(D, H, FF, norm_first=norm_first).double()
    mine.load_state_dict(theirs.state_dict())
    return mine, theirs


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("masks", ["causal", "causal+padding", "all", "float"])
def test_decoder_layer_matches_torch(norm_first, masks) -> None:
    mine, theirs = _decoder_pair(norm_first)
    B, T, S = 3, 4, 6
    keep = causal_mask(T, T)
    mine_kwargs: dict = {"tgt_mask": keep}
    torch_kwargs: dict = {"tgt_mask": ~keep}
    if masks in ("causal+padding", "all"):
        mine_kwargs["memory_key_padding_mask"] = torch_kwargs["memory_key_padding_mask"] = _padding([6, 3, 1], S)
    if masks == "all":
        mine_kwargs["tgt_key_padding_mask"] = torch_kwargs["tgt_key_padding_mask"] = _padding([4, 4, 2], T)
        memory_keep = torch.ones(T, S, dtype=torch.bool)
        memory_keep[:, 0] = False                         # nobody may look at the first source position
        memory_keep[0, 0] = True
        mine_kwargs["memory_mask"], torch_kwargs["memory_mask"] = memory_keep, ~memory_keep
    if masks == "float":
        float_mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
        mine_kwargs = {"tgt_mask": float_mask, "memory_mask": _randn(T, S, seed=3)}
        torch_kwargs = dict(mine_kwargs)
    out = _assert_layers_twin(mine, theirs, [_randn(B, T, D, seed=4), _randn(B, S, D, seed=5)], mine_kwargs,
                              torch_kwargs)
    assert out.shape == (B, T, D)


def test_decoder_layer_init_equals_torch_from_the_same_seed() -> None:
    torch.manual_seed(8)
    mine = TransformerDecoderLayer(16, 4, 32)
    torch.manual_seed(8)
    theirs = nn.TransformerDecoderLayer(16, 4, 32, batch_first=True)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    for (name, p), q in zip(mine.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(p, q), name


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_cached_steps_equal_the_full_causal_output(norm_first) -> None:
    mine, theirs = _decoder_pair(norm_first)
    B, T, S = 3, 5, 6
    tgt, memory = _randn(B, T, D, seed=6), _randn(B, S, D, seed=7)
    padding = _padding([6, 3, 1], S)
    full = mine(tgt, memory, tgt_is_causal=True, memory_key_padding_mask=padding)
    torch.testing.assert_close(full, theirs(tgt, memory, tgt_mask=~causal_mask(T, T), memory_key_padding_mask=padding),
                               atol=ATOL, rtol=RTOL)
    cache: dict = {}
    for t in range(T):
        step = mine(tgt[:, t: t + 1], memory if t == 0 else None, memory_key_padding_mask=padding, cache=cache)
        torch.testing.assert_close(step[:, 0], full[:, t], atol=ATOL, rtol=RTOL)
        assert cache["self"]["k"].shape == (B, H, t + 1, D // H)
        assert cache["cross"]["k"].shape == (B, H, S, D // H)


def test_decoder_cache_reorders_with_index_select_for_beams() -> None:
    """Every cache tensor has the batch first: reordering rows = decoding the reordered batch."""
    mine, _ = _decoder_pair(False)
    tgt, memory = _randn(2, 3, D, seed=8), _randn(2, 4, D, seed=9)
    cache: dict = {}
    mine(tgt[:, :2], memory, tgt_is_causal=True, cache=cache)
    index = torch.tensor([1, 1, 0])
    reordered = {part: {key: value.index_select(0, index) if isinstance(value, Tensor) else value
                        for key, value in sub.items()} for part, sub in cache.items()}
    step = mine(tgt[index, 2:], None, cache=reordered)
    full = mine(tgt[index], memory[index], tgt_is_causal=True)
    torch.testing.assert_close(step[:, 0], full[:, 2], atol=ATOL, rtol=RTOL)


def test_decoder_layer_keeps_cross_attention_weights_per_head() -> None:
    mine, _ = _decoder_pair(True)
    padding = _padding([6, 2], 6)
    mine(_randn(2, 3, D, seed=10), _randn(2, 6, D, seed=11), tgt_is_causal=True, memory_key_padding_mask=padding,
         need_weights=True)
    assert mine.cross_attn_weights.shape == (2, H, 3, 6) and mine.self_attn_weights.shape == (2, H, 3, 3)
    assert torch.all(mine.cross_attn_weights[1, ..., 2:] == 0)
    assert torch.all(mine.self_attn_weights.triu(diagonal=1) == 0)


def test_layers_use_dropout_only_in_training() -> None:
    layer = TransformerDecoderLayer(D, H, FF, dropout=0.3).double()
    tgt, memory = _randn(2, 3, D, seed=12), _randn(2, 4, D, seed=13)
    torch.manual_seed(0)
    train_out = layer(tgt, memory)
    layer.eval()
    assert not torch.allclose(train_out, layer(tgt, memory))
    torch.testing.assert_close(layer(tgt, memory), layer(tgt, memory), atol=0, rtol=0)


@pytest.mark.parametrize("call, message", [
    (lambda: TransformerEncoderLayer(10, 3, 16), "positive multiple of nhead"),
    (lambda: TransformerDecoderLayer(12, 3, 0), "dim_feedforward ≥ 1"),
    (lambda: TransformerEncoderLayer(12, 3, 16, dropout=-0.1), "dropout must be"),
])
def test_bad_arguments(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()
