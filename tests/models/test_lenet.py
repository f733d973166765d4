"""LeNet-5: shapes, the batch-norm variant, and scratch BN equal to nn.BatchNorm inside LeNet."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.models.lenet import LeNet
from divelab.scratch.batchnorm import BatchNormScratch


def test_output_shape_and_parameter_count():
    model = LeNet()
    x = torch.rand(5, 1, 28, 28)
    assert model(x).shape == (5, 10)
    assert model.net[:7](x).shape == (5, 400)  # conv/pool stages, then Flatten: 16 · 5 · 5
    # conv 6·25+6, conv 16·6·25+16, linear 400·120+120, 120·84+84, 84·10+10
    assert sum(p.numel() for p in model.parameters()) == 156 + 2416 + 48120 + 10164 + 850
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in model.modules())


def test_batch_norm_sits_before_each_sigmoid():
    model = LeNet(batch_norm=True)
    layers = list(model.net)
    kinds = [type(m) for m in layers]
    assert kinds.count(nn.BatchNorm2d) == 2 and kinds.count(nn.BatchNorm1d) == 2
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Sigmoid):
            assert isinstance(layers[i - 1], (nn.BatchNorm1d, nn.BatchNorm2d))
            assert isinstance(layers[i - 2], (nn.Conv2d, nn.Linear))
    assert model(torch.rand(4, 1, 28, 28)).shape == (4, 10)


def test_norm_layer_needs_batch_norm():
    with pytest.raises(ValueError, match="batch_norm=True"):
        LeNet(norm_layer=BatchNormScratch)


def test_scratch_bn_variant_equals_nn_bn_variant_with_copied_weights():
    """float64; same weights: outputs and every parameter gradient over 3 SGD steps, the running
    buffers, then evaluation mode (running statistics) — to 1e-10."""
    torch.manual_seed(0)
    theirs = LeNet(batch_norm=True).double()
    mine = LeNet(batch_norm=True, norm_layer=BatchNormScratch).double()
    assert list(mine.state_dict()) == list(theirs.state_dict())
    mine.load_state_dict(theirs.state_dict())
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.5) for m in (mine, theirs)]
    g = torch.Generator().manual_seed(1)
    for step in range(3):
        x = torch.rand(8, 1, 28, 28, generator=g, dtype=torch.float64)
        y = torch.randint(0, 10, (8,), generator=g)
        outputs = []
        for model, optimizer in zip((mine, theirs), optimizers):
            out = model(x)
            optimizer.zero_grad()
            F.cross_entropy(out, y).backward()
            outputs.append(out.detach())
        torch.testing.assert_close(outputs[0], outputs[1], atol=1e-10, rtol=1e-10)
        for (name, a), b in zip(mine.named_parameters(), theirs.parameters()):
            torch.testing.assert_close(a.grad, b.grad, atol=1e-10, rtol=1e-8, msg=lambda m, n=name: f"{n}: {m}")
        for optimizer in optimizers:
            optimizer.step()
    for (name, a), b in zip(mine.named_buffers(), theirs.buffers()):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10, msg=lambda m, n=name: f"{n}: {m}")
    mine.eval()
    theirs.eval()
    x = torch.rand(6, 1, 28, 28, generator=g, dtype=torch.float64)
    torch.testing.assert_close(mine(x), theirs(x), atol=1e-10, rtol=1e-10)
