"""Twin tests for the L2 penalty: its value, its gradient λw, and SGD steps with the penalty in
the loss against ``torch.optim.SGD(weight_decay=λ)``."""

import pytest
import torch

from divelab.scratch.optim import SGD as ScratchSGD
from divelab.scratch.regularization import l2_penalty
from tests.twin import assert_twin

pytestmark = pytest.mark.twin


def half_squared_norm(w: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.linalg.vector_norm(w) ** 2


@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 4), (2, 3, 5), (0, 3)])
def test_value_and_gradient_equal_half_squared_norm(shape):
    w = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    got = assert_twin(l2_penalty, half_squared_norm, w)
    assert got.shape == ()


def test_sums_over_several_tensors():
    g = torch.Generator().manual_seed(1)
    weights = [torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64)]
    assert_twin(lambda a, b: l2_penalty([a, b]), lambda a, b: half_squared_norm(a) + half_squared_norm(b), *weights)
    assert_twin(lambda a, b: l2_penalty(iter([a, b])), lambda a, b: half_squared_norm(torch.cat([a.flatten(), b])),
                *weights)


@pytest.mark.parametrize("lam", [0.0, 0.1, 3.0])
def test_gradient_of_lambda_times_penalty_is_lambda_w(lam):
    w = torch.randn(6, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64, requires_grad=True)
    (lam * l2_penalty(w)).backward()
    torch.testing.assert_close(w.grad, lam * w.detach(), atol=1e-15, rtol=0)


def test_value_by_hand():
    assert l2_penalty(torch.tensor([3.0, 4.0])).item() == 12.5  # ½ (9 + 16)
    assert l2_penalty([torch.tensor(2.0), torch.tensor([1.0, 1.0])]).item() == 3.0  # ½ (4 + 1 + 1)


def test_needs_a_tensor():
    with pytest.raises(ValueError, match="at least one"):
        l2_penalty([])


def _problem(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(24, 5, generator=g, dtype=torch.float64)
    y = X @ torch.randn(5, generator=g, dtype=torch.float64) + 0.1 * torch.randn(24, generator=g, dtype=torch.float64)
    w0 = torch.randn(5, generator=g, dtype=torch.float64)
    return X, y, w0


@pytest.mark.parametrize("lam", [0.0, 0.5, 4.0])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_penalty_in_the_loss_takes_the_steps_of_sgd_weight_decay(lam, momentum):
    """20 minibatch steps: loss + λ·l2_penalty(w) with plain SGD == loss with SGD(weight_decay=λ);
    the bias is not decayed on either side."""
    X, y, w0 = _problem()
    w_a, b_a = w0.clone().requires_grad_(True), torch.zeros(1, dtype=torch.float64, requires_grad=True)
    w_b, b_b = w0.clone().requires_grad_(True), torch.zeros(1, dtype=torch.float64, requires_grad=True)
    penalised = torch.optim.SGD([w_a, b_a], lr=0.05, momentum=momentum)
    decayed = torch.optim.SGD([{"params": [w_b], "weight_decay": lam}, {"params": [b_b]}], lr=0.05, momentum=momentum)
    for step in range(20):
        rows = slice(6 * (step % 4), 6 * (step % 4) + 6)
        penalised.zero_grad()
        (0.5 * ((X[rows] @ w_a + b_a - y[rows]) ** 2).mean() + lam * l2_penalty(w_a)).backward()
        penalised.step()
        decayed.zero_grad()
        (0.5 * ((X[rows] @ w_b + b_b - y[rows]) ** 2).mean()).backward()
        decayed.step()
        torch.testing.assert_close(w_a, w_b, atol=1e-12, rtol=0, msg=lambda m, s=step: f"step {s}: {m}")
        torch.testing.assert_close(b_a, b_b, atol=1e-12, rtol=0)
    assert not torch.allclose(w_a, w0)


def test_one_scratch_sgd_step_shrinks_the_weights_by_one_minus_lr_lambda():
    """With a zero data gradient a step is pure decay: w ← (1 − ηλ) w."""
    w0 = torch.tensor([1.0, -2.0, 4.0], dtype=torch.float64)
    w = w0.clone().requires_grad_(True)
    (3.0 * l2_penalty(w)).backward()
    ScratchSGD([w], lr=0.1).step()
    torch.testing.assert_close(w.detach(), 0.7 * w0, atol=1e-15, rtol=0)
