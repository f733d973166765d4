import pytest
import torch
import torch.nn.functional as F

from divelab.scratch.losses import squared_loss
from tests.twin import assert_twin

pytestmark = pytest.mark.twin


@pytest.mark.parametrize("shape", [(1,), (7,), (4, 3)])
def test_squared_loss_twin(shape):
    gen = torch.Generator().manual_seed(0)
    y_hat, y = torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)
    assert_twin(squared_loss, lambda a, b: 0.5 * F.mse_loss(a, b), y_hat, y)


def test_squared_loss_by_hand_and_shape_check():
    assert squared_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])).item() == pytest.approx(2.5)
    with pytest.raises(ValueError, match="differs from target shape"):
        squared_loss(torch.zeros(3), torch.zeros(3, 1))
