"""VGG: blocks from a spec, VGG-11's layer counts and shape table, the course's quarter-width variant."""

import pytest
import torch
from torch import nn

from divelab.models import VGG
from divelab.models.vgg import VGG11, vgg_block


def _count(model, kind):
    return sum(isinstance(m, kind) for m in model.modules())


def test_vgg11_has_8_convolutions_and_3_linear_layers():
    with torch.device("meta"):
        model = VGG()
    assert VGG11 == ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
    assert (_count(model, nn.Conv2d), _count(model, nn.Linear)) == (8, 3)
    assert all(m.kernel_size == (3, 3) and m.padding == (1, 1) for m in model.modules() if isinstance(m, nn.Conv2d))


def test_course_shape_table_at_224():
    shapes = []
    with torch.device("meta"):
        model = VGG()
        x = torch.empty(1, 1, 224, 224)
        for layer in model.net[:6]:  # 5 blocks, Flatten
            x = layer(x)
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7), (25088,)]


def test_block_keeps_the_side_through_convolutions_and_halves_it_at_the_end():
    block = vgg_block(3, in_channels=2, out_channels=5)
    assert _count(block, nn.Conv2d) == 3 and isinstance(block[-1], nn.MaxPool2d)
    assert block(torch.rand(2, 2, 8, 6)).shape == (2, 5, 4, 3)


def test_other_specs_vgg16_and_the_courses_training_variant():
    vgg16 = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
    with torch.device("meta"):
        assert _count(VGG(arch=vgg16), nn.Conv2d) == 13
        quarter = VGG(arch=((1, 16), (1, 32), (2, 64), (2, 128), (2, 128)), hidden=4096)
        width = VGG(width=0.25, hidden=4096)
    shapes = [p.shape for p in quarter.parameters()]
    assert shapes == [p.shape for p in width.parameters()]  # the course trains VGG-11 at width 1/4


def test_input_must_survive_every_halving():
    with torch.device("meta"):
        assert VGG(arch=((1, 8),) * 3, input_size=8).final_size == 1
        with pytest.raises(ValueError, match="at least 32×32"):
            VGG(input_size=28)


@pytest.mark.parametrize("arch", [(), ((1,),), ((0, 64),), ((1, 0),)])
def test_bad_arch_is_a_value_error(arch):
    with pytest.raises(ValueError, match="arch|num_convs|channels"):
        VGG(arch=arch)


def test_small_input_forward_and_backward():
    torch.manual_seed(0)
    model = VGG(input_size=32, width=0.125)
    out = model(torch.rand(3, 1, 32, 32))
    out.sum().backward()
    assert out.shape == (3, 10) and model.net[0][0].weight.grad is not None
