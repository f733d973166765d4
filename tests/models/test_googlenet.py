"""GoogLeNet: Inception blocks (four paths, channels concatenated) and d2l's shape table at 96 px."""

import torch
import torch.nn.functional as F
from torch import nn

from divelab.models import GoogLeNet
from divelab.models.googlenet import Inception


def test_inception_output_is_the_concatenation_of_its_four_paths():
    torch.manual_seed(0)
    block = Inception(3, 4, (2, 5), (2, 6), 7)
    x = torch.rand(2, 3, 9, 7)
    out = block(x)
    assert out.shape == (2, 4 + 5 + 6 + 7, 9, 7) and block.out_channels == 22
    paths = [F.relu(block.p1_1(x)),
             F.relu(block.p2_2(F.relu(block.p2_1(x)))),
             F.relu(block.p3_2(F.relu(block.p3_1(x)))),
             F.relu(block.p4_2(F.max_pool2d(x, 3, stride=1, padding=1)))]
    torch.testing.assert_close(out, torch.cat(paths, dim=1))
    assert [block.p2_2.kernel_size, block.p3_2.kernel_size] == [(3, 3), (5, 5)]


def test_course_shape_table_at_96():
    with torch.device("meta"):
        model = GoogLeNet()
        x = torch.empty(1, 1, 96, 96)
        shapes = []
        for stage in model.net:
            x = stage(x)
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(64, 24, 24), (192, 12, 12), (480, 6, 6), (832, 3, 3), (1024,), (10,)]


def test_block_outputs_follow_the_course():
    """256, 480 (b3); 512, 512, 512, 528, 832 (b4); 832, 1024 (b5)."""
    with torch.device("meta"):
        model = GoogLeNet()
    blocks = [m for m in model.modules() if isinstance(m, Inception)]
    assert [b.out_channels for b in blocks] == [256, 480, 512, 512, 512, 528, 832, 832, 1024]
    assert model.net[-1].in_features == 1024


def test_width_scales_each_path_and_the_next_block_takes_their_sum():
    with torch.device("meta"):
        model = GoogLeNet(width=0.5)
    blocks = [m for m in model.modules() if isinstance(m, Inception)]
    first = blocks[0]
    assert (first.p1_1.out_channels, first.p2_2.out_channels, first.p3_2.out_channels,
            first.p4_2.out_channels) == (32, 64, 16, 16)
    for before, after in zip(blocks, blocks[1:]):
        assert after.p1_1.in_channels == before.out_channels


def test_cpu_sized_input_trains():
    torch.manual_seed(0)
    model = GoogLeNet(input_size=28, width=0.125)
    assert model.feature_sizes == [14, 7, 4, 2, 1]
    out = model(torch.rand(2, 1, 28, 28))
    F.cross_entropy(out, torch.tensor([1, 2])).backward()
    assert out.shape == (2, 10) and all(p.grad is not None for p in model.parameters())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # d2l's GoogLeNet has no batch norm
