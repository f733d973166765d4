"""The recurrent translation models (GRU encoder–decoder, Bahdanau attention) and the masked loss.

The models run in float64 and evaluation mode, so teacher forcing and step-by-step
decoding must agree to rounding (1e-12): both paths compute the same recurrences.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from divelab.eval.decode import beam_search, greedy_decode
from divelab.models.seq2seq import (AttentionSeq2Seq, GRUSeq2Seq, Seq2Seq, TranslationLoss, masked_cross_entropy,
                                    source_padding_mask)
from tests.twin import assert_twin

SRC_V, TGT_V, BOS, EOS, PAD = 11, 13, 1, 2, 0
MODELS = {"gru": GRUSeq2Seq, "attention": AttentionSeq2Seq}


def make(kind: str, seed: int = 0, **kwargs) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = MODELS[kind](SRC_V, TGT_V, embed_size=6, num_hiddens=8, num_layers=2, dropout=0.2, **kwargs)
    return model.double().eval()


def batch(seed: int = 0, B: int = 4, S: int = 7, T: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    src_len = torch.tensor([S, 3, 1, 5][:B])
    src = torch.randint(3, SRC_V, (B, S), generator=g).masked_fill(source_padding_mask(src_len, S), PAD)
    tgt_in = torch.cat([torch.full((B, 1), BOS), torch.randint(3, TGT_V, (B, T - 1), generator=g)], dim=1)
    return src, src_len, tgt_in


@pytest.mark.parametrize("kind", MODELS)
def test_forward_shape_and_protocol(kind):
    model = make(kind)
    src, src_len, tgt_in = batch()
    logits = model(src, src_len, tgt_in)
    assert logits.shape == (4, 5, TGT_V) and torch.isfinite(logits).all()
    torch.testing.assert_close(model((src, src_len, tgt_in)), logits)  # the Trainer's one-argument call
    assert isinstance(model, Seq2Seq)


@pytest.mark.parametrize("kind", MODELS)
def test_step_with_gold_prefix_equals_teacher_forcing(kind):
    model = make(kind)
    src, src_len, tgt_in = batch()
    want = torch.log_softmax(model(src, src_len, tgt_in), dim=-1)
    state = model.encode(src, src_len)
    for t in range(tgt_in.shape[1]):
        log_probs, state = model.step(tgt_in[:, t], state)
        torch.testing.assert_close(log_probs, want[:, t], atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", MODELS)
def test_padding_the_source_changes_nothing(kind):
    model = make(kind)
    src, src_len, tgt_in = batch()
    longer = torch.cat([src, torch.randint(3, SRC_V, (4, 6))], dim=1)  # junk beyond src_len, not even <pad>
    torch.testing.assert_close(model(longer, src_len, tgt_in), model(src, src_len, tgt_in), atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", MODELS)
def test_sentences_do_not_interact_in_a_batch(kind):
    model = make(kind)
    src, src_len, tgt_in = batch()
    alone = model(src[1:2, :3], src_len[1:2], tgt_in[1:2])
    torch.testing.assert_close(model(src, src_len, tgt_in)[1:2], alone, atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", MODELS)
def test_greedy_and_beam_decode_the_model(kind):
    model = make(kind, seed=3)
    src, src_len, _ = batch()
    greedy = greedy_decode(model, src, src_len, bos=BOS, eos=EOS, max_len=8)
    beams = beam_search(model, src, src_len, bos=BOS, eos=EOS, beam_size=1, max_len_a=0, max_len_b=8)
    assert [h[0].tokens for h in beams] == greedy
    # greedy picks each token as the argmax of the teacher-forced distribution over its own output
    for b, tokens in enumerate(greedy):
        tgt_in = torch.tensor([[BOS, *tokens]])
        picks = model(src[b:b + 1], src_len[b:b + 1], tgt_in).argmax(-1)[0, :len(tokens)]
        assert picks.tolist() == tokens
    wide = beam_search(model, src, src_len, bos=BOS, eos=EOS, beam_size=4, max_len_a=0, max_len_b=8, n_best=4)
    for hyps in wide:
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        assert all(EOS not in h.tokens and BOS not in h.tokens for h in hyps)


def test_bahdanau_weights_sum_to_one_over_the_real_source():
    model = make("attention")
    src, src_len, tgt_in = batch()
    weights = model.attention_map(src, src_len, tgt_in)  # (B, T, S)
    assert weights.shape == (4, 5, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4, 5, dtype=torch.float64))
    assert (weights.masked_select(source_padding_mask(src_len, 7)[:, None].expand(-1, 5, -1)) == 0).all()


def test_bahdanau_step_matches_the_attention_layer():
    """The step's cached-key scoring is AdditiveAttention's forward with W_k applied once."""
    model = make("attention")
    src, src_len, tgt_in = batch()
    state = model.encode(src, src_len)
    query = torch.randn(4, 8, dtype=torch.float64)
    context, weights = model._attend(query, state)
    want = model.attention(query[:, None], state["memory"], state["memory"], src_len)
    torch.testing.assert_close(context, want[:, 0], atol=1e-12, rtol=0)
    torch.testing.assert_close(weights, model.attention.attention_weights[:, 0], atol=1e-12, rtol=0)


@pytest.mark.parametrize("kind", MODELS)
def test_every_parameter_learns(kind):
    model = make(kind).train()
    src, src_len, tgt_in = batch()
    target = torch.cat([tgt_in[:, 1:], torch.full((4, 1), EOS)], dim=1)
    TranslationLoss(PAD, 0.1)(model(src, src_len, tgt_in), target).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("bad, message", [(torch.tensor([7, 3, 0, 5]), "between 1 and 7"),
                                          (torch.tensor([8, 3, 1, 5]), "between 1 and 7"),
                                          (torch.tensor([7, 3]), "shape")])
def test_bad_source_lengths_are_refused(bad, message):
    src, _, tgt_in = batch()
    with pytest.raises(ValueError, match=message):
        make("gru")(src, bad, tgt_in)


@pytest.mark.twin
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_masked_cross_entropy_twin(smoothing):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 9, generator=g)
    target = torch.randint(1, 9, (3, 6), generator=g)
    target[0, 4:], target[2, 1:] = PAD, PAD  # padded tails count for nothing
    assert_twin(lambda z: masked_cross_entropy(z, target, PAD, smoothing),
                lambda z: F.cross_entropy(z.reshape(-1, 9), target.reshape(-1), ignore_index=PAD,
                                          label_smoothing=smoothing),
                logits, atol=1e-12, rtol=1e-10)


def test_masked_cross_entropy_is_the_mean_over_valid_tokens_only():
    logits = torch.randn(2, 4, 5, dtype=torch.float64)
    target = torch.tensor([[3, 1, PAD, PAD], [2, 4, 4, 1]])
    per_token = F.cross_entropy(logits.reshape(-1, 5), target.reshape(-1), reduction="none")
    valid = target.reshape(-1) != PAD
    assert masked_cross_entropy(logits, target, PAD).item() == pytest.approx(per_token[valid].mean().item())
    logits2 = logits.clone()
    logits2[0, 2:] = 100 * torch.randn(2, 5, dtype=torch.float64)  # logits at padding do not matter
    assert masked_cross_entropy(logits2, target, PAD).item() == pytest.approx(per_token[valid].mean().item())
    # all padding: 0 (F.cross_entropy gives NaN there)
    assert masked_cross_entropy(logits, torch.full((2, 4), PAD), PAD).item() == 0.0


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_translation_loss_terms_count_the_tokens_its_mean_averages(smoothing):
    """``loss · terms`` is the batch's token sum (F.cross_entropy, reduction="sum"), so parts of a
    batch weighted by their terms combine into the loss of the whole batch."""
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 4, 7, dtype=torch.float64, generator=g)
    target = torch.randint(3, 7, (5, 4), generator=g)
    target[0, 1:], target[3, 3:] = PAD, PAD
    loss_fn = TranslationLoss(PAD, smoothing)
    terms = loss_fn.terms(target)
    assert terms.dim() == 0 and terms.device == target.device and int(terms) == 20 - 3 - 1
    total = F.cross_entropy(logits.reshape(-1, 7), target.reshape(-1), ignore_index=PAD, reduction="sum",
                            label_smoothing=smoothing)
    assert (loss_fn(logits, target) * terms).item() == pytest.approx(total.item(), rel=1e-12)
    parts = [(loss_fn(logits[rows], target[rows]), loss_fn.terms(target[rows])) for rows in (slice(0, 2), slice(2, 5))]
    combined = sum(loss * t for loss, t in parts) / sum(t for _, t in parts)
    assert combined.item() == pytest.approx(loss_fn(logits, target).item(), rel=1e-12)


def memorised_share(model: torch.nn.Module, steps: int = 60, n: int = 8, seed: int = 0) -> float:
    """Train ``model`` (vocabularies 11 → 19) on ``n`` random pairs with Adam, then the share of them
    that greedy decoding reproduces exactly: masks, shifts and the decoding state all have to be right."""
    g = torch.Generator().manual_seed(seed)
    src_len, tgt_len = torch.randint(2, 7, (n,), generator=g), torch.randint(2, 7, (n,), generator=g)
    src = torch.randint(3, 11, (n, 6), generator=g).masked_fill(source_padding_mask(src_len, 6), PAD)
    tgt_out = torch.randint(3, 19, (n, 7), generator=g).masked_fill(source_padding_mask(tgt_len, 7), PAD)
    tgt_out[torch.arange(n), tgt_len] = EOS
    tgt_in = torch.cat([torch.full((n, 1), BOS), tgt_out[:, :-1].masked_fill(tgt_out[:, :-1] == EOS, PAD)], dim=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = TranslationLoss(PAD)(model(src, src_len, tgt_in), tgt_out)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    out = greedy_decode(model, src, src_len, bos=BOS, eos=EOS, max_len=8)
    return sum(tokens == tgt_out[i, :tgt_len[i]].tolist() for i, tokens in enumerate(out)) / n


@pytest.mark.parametrize("kind", MODELS)
def test_learns_to_reproduce_a_few_pairs(kind):
    torch.manual_seed(0)
    assert memorised_share(MODELS[kind](SRC_V, 19, embed_size=16, num_hiddens=32, num_layers=1)) == 1.0


@pytest.mark.twin
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_translation_loss_is_masked_cross_entropy_in_torch_kernels(smoothing):
    """Value and gradient of the trained loss equal the hand-written one; all padding gives 0, not NaN."""
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 5, 7, generator=g, dtype=torch.float64)
    target = torch.randint(1, 7, (3, 5), generator=g)
    target[1, 2:] = PAD
    assert_twin(lambda z: masked_cross_entropy(z, target, PAD, smoothing),
                lambda z: TranslationLoss(PAD, smoothing)(z, target), logits, atol=1e-12, rtol=1e-10)
    assert TranslationLoss(PAD, smoothing)(logits, torch.full((3, 5), PAD)).item() == 0.0
    with pytest.raises(ValueError, match="label_smoothing"):
        TranslationLoss(PAD, 1.5)
