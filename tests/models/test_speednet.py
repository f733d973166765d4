"""SpeedNet: layer shapes at the default widths, both heads, every parameter learns, bad arguments."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.analysis.flops import count_flops
from divelab.models.speednet import SpeedNet


def test_default_shapes_parameters_and_cost():
    model = SpeedNet()
    x = torch.rand(3, 1, 28, 28)
    assert model(x).shape == (3, 10)
    convs = [m for m in model.net if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [24, 24, 48, 48, 96, 96]
    assert [c.stride for c in convs] == [(2, 2), (1, 1)] * 3
    assert model.feature_sizes == [14, 7, 4]
    assert model.net[:-2](x).shape == (3, 96, 4, 4)  # before Flatten → Linear(1536 → 10)
    # convs 9·(1·24 + 24·24 + 24·48 + 48·48 + 48·96 + 96·96), BN 2·(24+24+48+48+96+96), Linear 1536·10 + 10
    assert sum(p.numel() for p in model.parameters()) == 9 * 17880 + 672 + 15370
    # MACs: 14²·9·(24 + 576), 7²·9·(1152 + 2304), 4²·9·(4608 + 9216), 1536·10
    assert count_flops(model, (1, 28, 28)).macs == 196 * 9 * 600 + 49 * 9 * 3456 + 16 * 9 * 13824 + 15360


def test_every_parameter_gets_a_gradient_in_channels_last_layout():
    torch.manual_seed(0)
    model = SpeedNet(widths=(4, 8), extra=(1, 0)).to(memory_format=torch.channels_last)
    F.cross_entropy(model(torch.rand(6, 1, 28, 28)), torch.arange(6)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_maxpool_head_takes_other_sizes_flatten_head_does_not():
    pooled = SpeedNet(widths=(4, 8), extra=(0, 0), head="maxpool")
    assert pooled(torch.rand(2, 1, 40, 40)).shape == (2, 10)
    with pytest.raises(ValueError, match="built for 28×28"):
        SpeedNet(widths=(4, 8), extra=(0, 0))(torch.rand(2, 1, 40, 40))


@pytest.mark.parametrize("kwargs, match", [
    ({"widths": (8, 16), "extra": (1,)}, "one entry per stage"),
    ({"widths": (), "extra": ()}, "one entry per stage"),
    ({"widths": (8, 0), "extra": (1, 1)}, "width"),
    ({"widths": (8,), "extra": (-1,)}, "extra"),
    ({"head": "avg"}, "head"),
])
def test_bad_arguments_are_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SpeedNet(**kwargs)
