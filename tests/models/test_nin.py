"""NiN: NiN blocks of one k×k and two 1×1 convolutions, global average pooling and no Linear layer."""

import pytest
import torch
from torch import nn

from divelab.models import AlexNet, NiN
from divelab.models.nin import nin_block


def test_no_linear_layer_and_two_1x1_convolutions_per_block():
    with torch.device("meta"):
        model = NiN()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    assert len(convs) == 12 and sum(m.kernel_size == (1, 1) for m in convs) == 8
    assert convs[-1].out_channels == 10  # the last block has one channel per class


def test_course_shape_table_at_224():
    with torch.device("meta"):
        model = NiN()
        x = torch.empty(1, 1, 224, 224)
        shapes = []
        for layer in model.net:
            x = layer(x)
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(96, 54, 54), (96, 26, 26), (256, 26, 26), (256, 12, 12), (384, 12, 12), (384, 5, 5),
                      (384, 5, 5), (10, 5, 5), (10, 1, 1), (10,)]


def test_far_fewer_parameters_than_alexnet():
    with torch.device("meta"):
        nin, alexnet = NiN(), AlexNet()
    n_nin, n_alex = (sum(p.numel() for p in m.parameters()) for m in (nin, alexnet))
    assert n_nin < n_alex / 20


def test_block_is_a_per_pixel_mlp_after_its_first_convolution():
    torch.manual_seed(0)
    block = nin_block(2, 4, kernel_size=1, stride=1, padding=0)
    x = torch.rand(3, 2, 5, 5)
    pixels = x.permute(0, 2, 3, 1).reshape(-1, 2)  # (N·H·W, C): every pixel on its own
    mlp = nn.Sequential(*[nn.Linear(c.in_channels, c.out_channels) for c in block if isinstance(c, nn.Conv2d)])
    for lin, conv in zip(mlp, [c for c in block if isinstance(c, nn.Conv2d)]):
        lin.weight.data = conv.weight.data.flatten(1)
        lin.bias.data = conv.bias.data
    expected = torch.relu(mlp[2](torch.relu(mlp[1](torch.relu(mlp[0](pixels))))))
    torch.testing.assert_close(block(x).permute(0, 2, 3, 1).reshape(-1, 4), expected)


def test_logits_are_nonnegative_and_any_large_enough_size_works():
    torch.manual_seed(0)
    model = NiN(input_size=28, stem="small", width=0.125)
    out = model(torch.rand(2, 1, 28, 36))  # global pooling: not tied to input_size
    assert out.shape == (2, 10) and (out >= 0).all()  # d2l's last block ends in a ReLU
    with pytest.raises(ValueError, match="at least 15×15"):
        model(torch.rand(2, 1, 14, 28))
    with torch.device("meta"):
        assert NiN().min_input_size == 67
