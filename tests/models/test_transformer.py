"""The Transformer translation model: teacher forcing vs incremental decoding (with and without
the key/value cache), masks, attention maps, embedding options.

Float64 and evaluation mode: the cached, uncached and teacher-forced paths compute the same
sums in different groupings, so they agree to rounding (1e-10).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from divelab.eval.decode import beam_search, greedy_decode
from divelab.models.attention import FusedMultiHeadAttention
from divelab.models.seq2seq import Seq2Seq, TranslationLoss, source_padding_mask
from divelab.models.transformer import Transformer
from divelab.scratch.attention import MultiHeadAttention
from divelab.scratch.transformer import TransformerDecoderLayer, TransformerEncoderLayer
from tests.models.test_seq2seq import memorised_share

SRC_V, TGT_V, BOS, EOS, PAD = 11, 13, 1, 2, 0


def make(seed: int = 0, **kwargs) -> Transformer:
    torch.manual_seed(seed)
    options = dict(d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=24,
                   dropout=0.1) | kwargs
    return Transformer(SRC_V, options.pop("tgt_vocab", TGT_V), **options).double().eval()


def batch(seed: int = 0, B: int = 4, S: int = 7, T: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    src_len = torch.tensor([S, 3, 1, 5][:B])
    src = torch.randint(3, SRC_V, (B, S), generator=g).masked_fill(source_padding_mask(src_len, S), PAD)
    tgt_in = torch.cat([torch.full((B, 1), BOS), torch.randint(3, TGT_V, (B, T - 1), generator=g)], dim=1)
    return src, src_len, tgt_in


def test_forward_shape_and_protocol():
    model = make()
    src, src_len, tgt_in = batch()
    logits = model(src, src_len, tgt_in)
    assert logits.shape == (4, 6, TGT_V) and torch.isfinite(logits).all()
    torch.testing.assert_close(model((src, src_len, tgt_in)), logits)
    assert isinstance(model, Seq2Seq)


@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize("norm_first", [False, True])
def test_step_with_gold_prefix_equals_teacher_forcing(use_cache, norm_first):
    model = make(use_cache=use_cache, norm_first=norm_first)
    src, src_len, tgt_in = batch()
    want = torch.log_softmax(model(src, src_len, tgt_in), dim=-1)
    state = model.encode(src, src_len)
    for t in range(tgt_in.shape[1]):
        log_probs, state = model.step(tgt_in[:, t], state)
        torch.testing.assert_close(log_probs, want[:, t], atol=1e-10, rtol=0)
    if use_cache:
        assert all(c["self"]["k"].shape == (4, 4, 6, 4) for c in state["caches"])  # (B, h, t, d_h)
        assert all(c["cross"]["k"].shape == (4, 4, 7, 4) for c in state["caches"])  # (B, h, S, d_h)


def test_step_leaves_the_given_state_alone():
    model = make()
    src, src_len, tgt_in = batch()
    state = model.encode(src, src_len)
    first, state1 = model.step(tgt_in[:, 0], state)
    again, _ = model.step(tgt_in[:, 0], state)  # same state, same answer: nothing was appended to it
    torch.testing.assert_close(again, first, atol=0, rtol=0)
    assert state["caches"][0] == {} and state1["caches"][0]["self"]["k"].shape[2] == 1


def test_padding_the_source_changes_nothing():
    model = make()
    src, src_len, tgt_in = batch()
    longer = torch.cat([src, torch.randint(3, SRC_V, (4, 5))], dim=1)
    torch.testing.assert_close(model(longer, src_len, tgt_in), model(src, src_len, tgt_in), atol=1e-10, rtol=0)


def test_the_decoder_is_causal():
    model = make()
    src, src_len, tgt_in = batch()
    changed = tgt_in.clone()
    changed[:, 4:] = (changed[:, 4:] + 1 - 3) % (TGT_V - 3) + 3  # other tokens from position 4 on
    a, b = model(src, src_len, tgt_in), model(src, src_len, changed)
    torch.testing.assert_close(a[:, :4], b[:, :4], atol=1e-10, rtol=0)
    assert (a[:, 4:] - b[:, 4:]).abs().max() > 1e-3


def test_cached_and_uncached_decoding_give_the_same_translations():
    cached, uncached = make(seed=5), make(seed=5, use_cache=False)
    src, src_len, _ = batch()
    a = beam_search(cached, src, src_len, bos=BOS, eos=EOS, beam_size=3, max_len_a=1, max_len_b=4, n_best=3)
    b = beam_search(uncached, src, src_len, bos=BOS, eos=EOS, beam_size=3, max_len_a=1, max_len_b=4, n_best=3)
    assert [[h.tokens for h in hs] for hs in a] == [[h.tokens for h in hs] for hs in b]
    for hs, gs in zip(a, b):
        assert [h.score for h in hs] == pytest.approx([g.score for g in gs], abs=1e-9)
    greedy = greedy_decode(cached, src, src_len, bos=BOS, eos=EOS, max_len=8)
    assert greedy == greedy_decode(uncached, src, src_len, bos=BOS, eos=EOS, max_len=8)
    one = beam_search(cached, src, src_len, bos=BOS, eos=EOS, beam_size=1, max_len_a=0, max_len_b=8)
    assert [h[0].tokens for h in one] == greedy


def test_cross_attention_map_per_layer_and_head():
    model = make()
    src, src_len, tgt_in = batch()
    maps = model.attention_map(src, src_len, tgt_in)
    assert maps.shape == (4, 2, 4, 6, 7)  # (B, layers, heads, T, S)
    torch.testing.assert_close(maps.sum(-1), torch.ones(4, 2, 4, 6, dtype=torch.float64))
    padding = source_padding_mask(src_len, 7)[:, None, None, None].expand_as(maps)
    assert (maps.masked_select(padding) == 0).all()


def test_matches_torch_layers_with_the_same_weights():
    """The model's stacks are the layers of nn.TransformerEncoder/DecoderLayer (boolean masks flipped)."""
    model = make(dropout=0.0)
    src, src_len, tgt_in = batch()
    torch_enc = [nn.TransformerEncoderLayer(16, 4, 24, 0.0, batch_first=True).double().eval() for _ in range(2)]
    torch_dec = [nn.TransformerDecoderLayer(16, 4, 24, 0.0, batch_first=True).double().eval() for _ in range(2)]
    for mine, theirs in zip([*model.encoder_layers, *model.decoder_layers], [*torch_enc, *torch_dec]):
        theirs.load_state_dict(mine.state_dict())
    padding = source_padding_mask(src_len, 7)
    x = model.src_embedding(src) * 4 + model.positions.P[:7].double()
    for layer in torch_enc:
        x = layer(x, src_key_padding_mask=padding)
    y = model.tgt_embedding(tgt_in) * 4 + model.positions.P[:6].double()
    causal = nn.Transformer.generate_square_subsequent_mask(6, dtype=torch.float64)
    for layer in torch_dec:
        y = layer(y, x, tgt_mask=causal, memory_key_padding_mask=padding)
    want = y @ model.tgt_embedding.weight.T + model.output_bias
    torch.testing.assert_close(model(src, src_len, tgt_in), want, atol=1e-10, rtol=0)


def test_embedding_options():
    tied = make()
    untied = make(tie_output=False)
    shared = make(tgt_vocab=SRC_V, share_embeddings=True)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(untied) - count(tied) == TGT_V * 16
    assert shared.src_embedding is shared.tgt_embedding
    assert count(make(tgt_vocab=SRC_V)) - count(shared) == SRC_V * 16
    with pytest.raises(ValueError, match="joint vocabulary"):
        make(share_embeddings=True)
    assert isinstance(make(norm_first=True).encoder_norm, nn.Module)
    assert all(isinstance(layer, TransformerEncoderLayer) for layer in tied.encoder_layers)
    assert all(isinstance(layer, TransformerDecoderLayer) for layer in tied.decoder_layers)
    attention = [m for m in tied.modules() if isinstance(m, MultiHeadAttention)]
    assert len(attention) == 3 * 2 and all(isinstance(m, FusedMultiHeadAttention) for m in attention)


def test_every_parameter_learns():
    model = make(tie_output=False).train()
    src, src_len, tgt_in = batch()
    target = torch.cat([tgt_in[:, 1:], torch.full((4, 1), EOS)], dim=1)
    TranslationLoss(PAD, 0.1)(model(src, src_len, tgt_in), target).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_dropout_only_in_training_mode():
    model = make(dropout=0.3)
    src, src_len, tgt_in = batch()
    torch.testing.assert_close(model(src, src_len, tgt_in), model(src, src_len, tgt_in), atol=0, rtol=0)
    model.train()
    assert (model(src, src_len, tgt_in) - model(src, src_len, tgt_in)).abs().max() > 0


def test_learns_to_reproduce_a_few_pairs():
    torch.manual_seed(0)
    assert memorised_share(Transformer(SRC_V, 19, 32, 4, 1, 1, 64, dropout=0.0)) == 1.0
