"""STNClassifier: shapes, parameter count, identity at initialisation, and the scratch/library twin."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from divelab.models.stn import SpatialTransformer, STNClassifier
from divelab.scratch.spatial_transformer import SpatialTransformerScratch


def test_output_shape_and_parameter_count():
    x = torch.rand(5, 1, 28, 28)
    plain, with_stn = STNClassifier(transformer=False, width=4), STNClassifier(transformer=True, width=4)
    assert plain(x).shape == with_stn(x).shape == (5, 10)
    assert plain.stn is None and isinstance(with_stn.stn, SpatialTransformer)
    assert type(STNClassifier(use_scratch=True).stn) is SpatialTransformerScratch  # the library one subclasses it
    # conv 4·25+4, conv 8·4·25+8, linear 8·49·10+10
    assert sum(p.numel() for p in plain.parameters()) == 104 + 808 + 3930
    assert sum(p.numel() for p in with_stn.parameters()) == \
        sum(p.numel() for p in plain.parameters()) + sum(p.numel() for p in SpatialTransformer().parameters())


def test_without_a_transformer_the_classifier_sees_the_input_itself():
    x = torch.rand(2, 1, 28, 28)
    assert STNClassifier(transformer=False).transform(x) is x


def test_at_initialisation_the_transformer_changes_nothing():
    """Same classifier weights: with and without the (identity) transformer, the same outputs (float64)."""
    torch.manual_seed(0)
    plain = STNClassifier(transformer=False).double()
    with_stn = STNClassifier(transformer=True).double()
    with_stn.classifier.load_state_dict(plain.classifier.state_dict())
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(with_stn.transform(x), x, atol=1e-13, rtol=0)
    torch.testing.assert_close(with_stn(x), plain(x), atol=1e-12, rtol=0)


def test_the_identity_start_still_learns():
    """The last localisation layer (weight 0) gets a gradient, so θ can move away from the identity."""
    model = STNClassifier()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    F.cross_entropy(model(x), y).backward()
    last = model.stn.localization[-1]
    assert last.weight.grad.abs().sum() > 0 and last.bias.grad.abs().sum() > 0


@pytest.mark.twin
@pytest.mark.parametrize("align_corners", [True, False])
def test_scratch_transformer_inside_the_classifier_is_a_twin(align_corners):
    """use_scratch=True vs False, same float64 weights, θ away from identity: outputs and every
    parameter gradient to 1e-10."""
    torch.manual_seed(2)
    theirs = STNClassifier(use_scratch=False, align_corners=align_corners).double()
    with torch.no_grad():
        theirs.stn.localization[-1].weight.normal_(0, 0.2)
    mine = STNClassifier(use_scratch=True, align_corners=align_corners).double()
    mine.load_state_dict(theirs.state_dict())
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y = torch.tensor([0, 3, 7, 9])
    outputs = []
    for model in (mine, theirs):
        out = model(x)
        F.cross_entropy(out, y).backward()
        outputs.append(out.detach())
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-10, rtol=1e-10)
    for (name, a), b in zip(mine.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-10, rtol=1e-7, msg=lambda m, n=name: f"{n}: {m}")


def test_bad_width_is_rejected():
    with pytest.raises(ValueError, match="width"):
        STNClassifier(width=0)
