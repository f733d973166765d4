"""Plain and residual MLPs: depth counts weight layers, shortcuts are the only difference."""

import pytest
import torch

from divelab.experiment import model_facts
from divelab.models.plain_residual import Block, PlainResidualMLP, mlp_blocks


@pytest.mark.parametrize("depth", [2, 4, 20, 56])
def test_depth_counts_weight_layers(depth):
    model = PlainResidualMLP(depth, width=8)
    assert model_facts(model)["weight_layers"] == depth
    assert model(torch.randn(5, 1, 28, 28)).shape == (5, 10)


@pytest.mark.parametrize("depth", [0, 1, 3, 21])
def test_depth_must_be_even_and_at_least_two(depth):
    with pytest.raises(ValueError, match="even"):
        mlp_blocks(depth)


def test_same_seed_gives_the_same_weights_but_the_residual_blocks_last_gamma():
    torch.manual_seed(3)
    plain = PlainResidualMLP(6, width=8, residual=False)
    torch.manual_seed(3)
    residual = PlainResidualMLP(6, width=8, residual=True)
    for (name, p), (_, r) in zip(plain.state_dict().items(), residual.state_dict().items(), strict=True):
        if name.endswith("bn2.weight"):
            assert torch.equal(p, torch.ones(8)) and torch.equal(r, torch.zeros(8)), name
        else:
            assert torch.equal(p, r), name


@pytest.mark.parametrize("train", [True, False])
def test_a_new_residual_network_of_any_depth_computes_its_stem_and_head_alone(train):
    torch.manual_seed(0)
    deep = PlainResidualMLP(20, width=8, residual=True).train(train)
    x = torch.randn(16, 784)
    expected = deep.head(deep.stem(x))
    torch.testing.assert_close(deep(x), expected, rtol=0, atol=0)
    plain = PlainResidualMLP(20, width=8, residual=False).train(train)
    plain.stem, plain.head = deep.stem, deep.head
    assert not torch.allclose(plain(x), expected)  # the plain blocks transform it


def test_residual_block_with_a_zero_branch_is_the_identity_and_a_plain_one_passes_nothing():
    block = Block(8, residual=True).eval()
    x = torch.rand(4, 8)  # the previous ReLU's output is ≥ 0, so ReLU(0 + x) = x
    assert torch.equal(block(x), x)
    plain = Block(8, residual=False).eval()
    plain.load_state_dict(block.state_dict())
    assert torch.equal(plain(x), torch.zeros_like(x))  # without the shortcut nothing passes


def test_he_initialisation_keeps_the_weight_variance_two_over_fan_in():
    torch.manual_seed(0)
    model = PlainResidualMLP(20, width=256)
    w = model.blocks[0].w1.weight
    assert w.var().item() == pytest.approx(2 / 256, rel=0.05)
    assert torch.equal(model.head.bias, torch.zeros(10))


def test_width_must_be_positive():
    with pytest.raises(ValueError, match="width"):
        PlainResidualMLP(4, width=0)
