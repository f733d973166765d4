"""CharTransformer: shapes, causality, the tied head, generation, and its twin built from torch's layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from divelab.models.char_transformer import CharTransformer


def tiny(**kwargs) -> CharTransformer:
    torch.manual_seed(0)
    settings = dict(vocab_size=11, d_model=16, nhead=2, num_layers=2, dim_feedforward=32, context=12) | kwargs
    return CharTransformer(**settings).eval()


def test_logits_have_one_row_per_position():
    x = torch.randint(0, 11, (3, 9))
    assert tiny()(x).shape == (3, 9, 11)


def test_a_position_never_sees_the_tokens_after_it():
    model = tiny()
    x = torch.randint(0, 11, (2, 10))
    changed = x.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 11
    a, b = model(x), model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6], rtol=0, atol=1e-6)
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_the_output_layer_is_the_embedding():
    """No separate V × d output matrix: the logits are LN(h) Eᵀ + b, so the parameters are the
    two tables, the layers, the final norm and the output bias."""
    model = tiny()
    parts = (model.embedding, model.positions, model.layers, model.norm)
    assert model.head.weight is model.embedding.weight
    assert sum(p.numel() for p in model.parameters()) == \
        sum(p.numel() for m in parts for p in m.parameters()) + model.vocab_size
    x = torch.randint(0, 11, (2, 6))
    h = model.norm(model.layers[1](model.layers[0](model.embedding(x) + model.positions(torch.arange(6)),
                                                   is_causal=True), is_causal=True))
    torch.testing.assert_close(model(x), h @ model.embedding.weight.T + model.head.bias)


class TorchTwin(nn.Module):
    """The same network from torch's pre-norm nn.TransformerEncoderLayer, given CharTransformer's weights."""

    def __init__(self, mine: CharTransformer):
        super().__init__()
        d = mine.embedding.embedding_dim
        first = mine.layers[0]
        self.mine = mine
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d, first.self_attn.num_heads, first.linear1.out_features, 0.0,
                                       batch_first=True, norm_first=True) for _ in mine.layers)
        for theirs, ours in zip(self.layers, mine.layers):
            theirs.load_state_dict(ours.state_dict())
        self.norm = nn.LayerNorm(d)
        self.norm.load_state_dict(mine.norm.state_dict())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.mine
        h = m.embedding(x) + m.positions(torch.arange(x.shape[1]))
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        for layer in self.layers:
            h = layer(h, src_mask=mask, is_causal=True)
        return nn.functional.linear(self.norm(h), m.embedding.weight, m.head.bias)


def test_twin_outputs_and_gradients_match_torch_layers():
    """Tolerance 1e-5: float32, the same operations in a different order."""
    mine = tiny().train()
    twin = TorchTwin(mine).train()
    x = torch.randint(0, 11, (3, 12))
    ours, theirs = mine(x), twin(x)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    ours_grads = dict(mine.layers[0].named_parameters())
    for name, p in twin.layers[0].named_parameters():
        torch.testing.assert_close(ours_grads[name].grad, p.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_generate_extends_the_prefix_and_is_greedy_at_temperature_zero():
    model = tiny()
    prefix = torch.randint(0, 11, (1, 4))
    out = model.generate(prefix, 20)  # longer than the context: it keeps the last 12 tokens
    assert out.shape == (1, 24) and torch.equal(out[:, :4], prefix)
    next_token = model(prefix)[:, -1].argmax(-1)
    assert out[0, 4] == next_token[0]
    a = model.generate(prefix, 8, temperature=1.0, generator=torch.Generator().manual_seed(1))
    b = model.generate(prefix, 8, temperature=1.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


@pytest.mark.parametrize("bad, match", [(torch.zeros(2, 13, dtype=torch.long), "longer than the context"),
                                        (torch.zeros(2, 3), "integer token ids"),
                                        (torch.zeros(5, dtype=torch.long), "integer token ids")])
def test_bad_inputs_name_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        tiny()(bad)
