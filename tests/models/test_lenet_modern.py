"""The modern LeNet (BN → ReLU, max-pooling) and LeNet's input-size and width options."""

import pytest
import torch
from torch import nn

from divelab.models import LeNet, LeNetModern


def test_modern_lenet_normalises_before_each_relu_and_max_pools():
    model = LeNetModern()
    layers = list(model.net)
    relus = [i for i, m in enumerate(layers) if isinstance(m, nn.ReLU)]
    assert len(relus) == 4 and not any(isinstance(m, (nn.Sigmoid, nn.AvgPool2d)) for m in layers)
    for i in relus:
        assert isinstance(layers[i - 1], (nn.BatchNorm1d, nn.BatchNorm2d))
        assert isinstance(layers[i - 2], (nn.Conv2d, nn.Linear))
    assert sum(isinstance(m, nn.MaxPool2d) for m in layers) == 2


def test_modern_lenet_has_lenets_layer_sizes():
    weights = lambda m: [p.shape for n, p in m.named_parameters() if n.endswith("weight") and p.dim() > 1]  # noqa: E731
    assert weights(LeNetModern()) == weights(LeNet())
    assert LeNetModern()(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_lenet_input_size_width_and_channels():
    model = LeNet(input_size=32, width=2.0, in_channels=3, num_classes=4)
    assert model.net[0].weight.shape == (12, 3, 5, 5)
    assert model.net[7].in_features == 32 * 6 * 6  # 32 px: 32 → 16 → 12 → 6
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 4)
    with pytest.raises(ValueError, match="built for 32×32 inputs"):
        model(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="at least 12×12"):
        LeNet(input_size=11)


def test_lenet_defaults_draw_the_same_weights_as_a_plain_sequential():
    """Experiments seed and build ``LeNet()``: the options must not change its layers or its random draws."""
    torch.manual_seed(0)
    model = LeNet()
    torch.manual_seed(0)
    plain = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
    for m in plain:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
    mine, theirs = model.net.state_dict(), plain.state_dict()
    assert list(mine) == list(theirs) and all(torch.equal(mine[k], theirs[k]) for k in mine)
