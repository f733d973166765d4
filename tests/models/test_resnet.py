"""ResNet: residual blocks (identity or 1×1 shortcut), ResNet-18's 18 weighted layers and its shape table."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.models import ResNet
from divelab.models.resnet import Residual


def test_resnet18_has_18_weighted_layers_plus_three_1x1_shortcuts():
    with torch.device("meta"):
        model = ResNet()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    shortcuts = [c for c in convs if c.kernel_size == (1, 1)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(convs) - len(shortcuts) + len(linears) == 18
    assert len(shortcuts) == 3 and all(c.stride == (2, 2) for c in shortcuts)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 17


def test_course_shape_table_at_96_ends_at_512_by_3_by_3():
    with torch.device("meta"):
        model = ResNet()
        x = torch.empty(1, 1, 96, 96)
        shapes = []
        for stage in model.net:
            x = stage(x)
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(64, 24, 24), (64, 24, 24), (128, 12, 12), (256, 6, 6), (512, 3, 3), (10,)]


def test_residual_block_shapes_as_in_the_course():
    x = torch.rand(4, 3, 6, 6)
    assert Residual(3, 3)(x).shape == (4, 3, 6, 6)
    assert Residual(3, 6, use_1x1conv=True, stride=2)(x).shape == (4, 6, 3, 3)
    with pytest.raises(ValueError, match="use_1x1conv=True"):
        Residual(3, 6)


def test_identity_shortcut_adds_the_input():
    """With the second batch norm's γ = β = 0 the residual branch is 0, so the block is ReLU(x)."""
    torch.manual_seed(0)
    block = Residual(4, 4)
    nn.init.zeros_(block.bn2.weight)
    nn.init.zeros_(block.bn2.bias)
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(block(x), F.relu(x))


def test_projection_shortcut_is_the_1x1_convolution():
    torch.manual_seed(0)
    block = Residual(3, 5, use_1x1conv=True, stride=2)
    nn.init.zeros_(block.bn2.weight)
    nn.init.zeros_(block.bn2.bias)
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(block(x), F.relu(block.conv3(x)))


def test_custom_arch_and_small_stem():
    torch.manual_seed(0)
    model = ResNet(input_size=28, width=0.125, arch=((1, 64), (1, 128)), stem="small")
    assert model.feature_sizes == [28, 14, 7]
    assert sum(isinstance(m, Residual) for m in model.modules()) == 2
    out = model(torch.rand(2, 1, 28, 28))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="arch"):
        ResNet(arch=())
