"""AlexNet: d2l's shape table at 224 px, the weight of its Linear layers, and the small-input stem."""

import pytest
import torch
from torch import nn

from divelab.models import AlexNet


def _shapes(model, x):
    shapes = []
    for layer in model.net:
        x = layer(x)
        shapes.append((type(layer).__name__, tuple(x.shape[1:])))
    return shapes


def test_course_shape_table_at_224():
    with torch.device("meta"):
        model = AlexNet()
        shapes = _shapes(model, torch.empty(1, 1, 224, 224))
    convs_and_pools = [s for name, s in shapes if name in ("Conv2d", "MaxPool2d")]
    assert convs_and_pools == [(96, 54, 54), (96, 26, 26), (256, 26, 26), (256, 12, 12), (384, 12, 12),
                               (384, 12, 12), (256, 12, 12), (256, 5, 5)]
    assert [s for name, s in shapes if name in ("Flatten", "Linear")] == [(6400,), (4096,), (4096,), (10,)]


def test_the_two_hidden_linear_layers_hold_most_parameters():
    """d2l: the last two hidden layers need 6400×4096 and 4096×4096 matrices, over 40 million parameters."""
    with torch.device("meta"):
        model = AlexNet()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears[:2]] == [(4096, 6400), (4096, 4096)]
    hidden = sum(p.numel() for m in linears[:2] for p in m.parameters())
    assert hidden > 40e6 and hidden > 0.85 * sum(p.numel() for p in model.parameters())


def test_small_stem_keeps_the_rest_of_the_network():
    with torch.device("meta"):
        small = AlexNet(input_size=28, stem="small")
        course = AlexNet()
    assert small.net[0].kernel_size == (3, 3) and small.net[0].stride == (1, 1)
    assert small.feature_sizes == [28, 13, 6, 2] and small.min_input_size == 15
    same = [(type(a), getattr(a, "weight", torch.empty(0)).shape) for a in small.net[1:13]]
    assert same == [(type(b), getattr(b, "weight", torch.empty(0)).shape) for b in course.net[1:13]]
    assert small.net[14].in_features == 256 * 2 * 2  # after Flatten: 256 channels × 2 × 2


def test_course_stem_refuses_fashion_mnist_size_and_points_to_the_small_stem():
    with pytest.raises(ValueError, match="at least 65×65 pixels.*stem='small'"):
        AlexNet(input_size=28)
    AlexNet(input_size=65, width=0.05)  # the smallest that fits


def test_hidden_and_dropout_options():
    model = AlexNet(input_size=28, stem="small", width=0.125, hidden=64, dropout=0.0)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [64, 64, 10]
    assert all(m.p == 0.0 for m in model.modules() if isinstance(m, nn.Dropout))
    model.train()
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(model(x), model(x))  # no dropout: deterministic in training mode
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        AlexNet(hidden=0)
