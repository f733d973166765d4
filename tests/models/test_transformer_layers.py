"""The library-side Transformer layers against the hand-written ones they are built on.

Float64, the same weights (one state dict loaded into both): outputs and every parameter's
gradient agree to 1e-10 (the same operations, fused differently).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from divelab.models.attention import FusedMultiHeadAttention
from divelab.models.transformer_layers import DecoderLayer, EncoderLayer
from divelab.scratch.transformer import LayerNorm, TransformerDecoderLayer, TransformerEncoderLayer

D, H, FF = 16, 4, 24


def pair(fast_cls: type, slow_cls: type, norm_first: bool) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    fast = fast_cls(D, H, FF, 0.0, norm_first).double()
    slow = slow_cls(D, H, FF, 0.0, norm_first).double()
    slow.load_state_dict(fast.state_dict())
    return fast, slow


def assert_same_gradients(fast: nn.Module, slow: nn.Module) -> None:
    slow_params = dict(slow.named_parameters())
    for name, p in fast.named_parameters():
        torch.testing.assert_close(p.grad, slow_params[name].grad, atol=1e-10, rtol=0, msg=name)


def test_the_same_parameters_drawn_by_one_seed_and_torch_norms():
    torch.manual_seed(3)
    fast = DecoderLayer(D, H, FF)
    torch.manual_seed(3)
    slow = TransformerDecoderLayer(D, H, FF)
    assert fast.state_dict().keys() == slow.state_dict().keys()
    for name, value in slow.state_dict().items():
        torch.testing.assert_close(fast.state_dict()[name], value, atol=0, rtol=0, msg=name)
    assert isinstance(fast.norm1, nn.LayerNorm) and isinstance(slow.norm1, LayerNorm)
    assert isinstance(fast.self_attn, FusedMultiHeadAttention)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_outputs_and_gradients_match_the_scratch_layer(norm_first):
    fast, slow = pair(EncoderLayer, TransformerEncoderLayer, norm_first)
    x = torch.randn(3, 7, D, dtype=torch.float64)
    padding = torch.zeros(3, 7, dtype=torch.bool)
    padding[1, 5:] = padding[2, 3:] = True
    ours, theirs = fast(x, src_key_padding_mask=padding), slow(x, src_key_padding_mask=padding)
    torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=0)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    assert_same_gradients(fast, slow)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_outputs_and_gradients_match_the_scratch_layer(norm_first):
    fast, slow = pair(DecoderLayer, TransformerDecoderLayer, norm_first)
    y, memory = torch.randn(3, 6, D, dtype=torch.float64), torch.randn(3, 5, D, dtype=torch.float64)
    padding = torch.zeros(3, 5, dtype=torch.bool)
    padding[0, 4:] = True
    ours = fast(y, memory, memory_key_padding_mask=padding, tgt_is_causal=True)
    theirs = slow(y, memory, memory_key_padding_mask=padding, tgt_is_causal=True)
    torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=0)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    assert_same_gradients(fast, slow)


def test_decoder_layer_step_by_step_with_a_cache_equals_the_whole_sequence():
    fast, _ = pair(DecoderLayer, TransformerDecoderLayer, False)
    y, memory = torch.randn(2, 5, D, dtype=torch.float64), torch.randn(2, 4, D, dtype=torch.float64)
    whole = fast(y, memory, tgt_is_causal=True)
    cache: dict = {}
    steps = [fast(y[:, t:t + 1], memory if t == 0 else None, cache=cache) for t in range(5)]
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, atol=1e-10, rtol=0)


def test_dropout_draws_masks_in_training_only():
    torch.manual_seed(0)
    layer = EncoderLayer(D, H, FF, dropout=0.5).double()
    x = torch.randn(2, 4, D, dtype=torch.float64)
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x), atol=0, rtol=0)
    layer.train()
    assert (layer(x) - layer(x)).abs().max() > 0
