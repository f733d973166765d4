"""DenseNet: dense blocks grow the channels by n·growth, transitions halve channels and side; d2l's table at 96 px."""

import pytest
import torch

from divelab.models import DenseNet
from divelab.models.densenet import DenseBlock, transition_block


def test_dense_block_concatenates_as_in_the_course():
    torch.manual_seed(0)
    block = DenseBlock(2, 3, 10)
    x = torch.rand(4, 3, 8, 8)
    y = block(x)
    assert y.shape == (4, 3 + 2 * 10, 8, 8) and block.out_channels == 23
    torch.testing.assert_close(y[:, :3], x)  # the input passes through unchanged
    torch.testing.assert_close(y[:, 3:13], block.net[0](x))  # the first conv block sees only the input
    assert transition_block(23, 10)(y).shape == (4, 10, 4, 4)


@pytest.mark.parametrize("num_convs, in_channels, growth", [(1, 1, 1), (4, 64, 32), (3, 5, 7)])
def test_dense_block_output_channels_are_in_plus_n_growth(num_convs, in_channels, growth):
    with torch.device("meta"):
        block = DenseBlock(num_convs, in_channels, growth)
        y = block(torch.empty(1, in_channels, 3, 3))
    assert y.shape[1] == block.out_channels == in_channels + num_convs * growth


def test_course_shape_table_at_96():
    with torch.device("meta"):
        model = DenseNet()
        x = torch.empty(1, 1, 96, 96)
        shapes = {}
        for name, stage in model.net.named_children():
            x = stage(x)
            shapes[name] = tuple(x.shape[1:])
    assert shapes == {"0": (64, 24, 24), "dense_blk1": (192, 24, 24), "tran_blk1": (96, 12, 12),
                      "dense_blk2": (224, 12, 12), "tran_blk2": (112, 6, 6), "dense_blk3": (240, 6, 6),
                      "tran_blk3": (120, 3, 3), "dense_blk4": (248, 3, 3), "last": (10,)}


def test_course_stem_needs_29_px_the_small_stem_takes_fashion_mnist():
    with pytest.raises(ValueError, match="at least 29×29.*stem='small'"):
        DenseNet(input_size=28)
    torch.manual_seed(0)
    model = DenseNet(input_size=28, width=0.25, stem="small")
    assert model.feature_sizes == [28, 14, 7, 3, 1] and model.min_input_size == 15
    out = model(torch.rand(2, 1, 28, 28))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_width_scales_stem_channels_and_growth():
    with torch.device("meta"):
        model = DenseNet(width=0.5)
    blocks = [m for m in model.modules() if isinstance(m, DenseBlock)]
    assert model.net[0][0].out_channels == 32 and blocks[0].out_channels == 32 + 4 * 16
