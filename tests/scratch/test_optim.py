"""Twin tests for minibatch SGD against torch.optim.SGD, and its optimizer interface."""

import json

import pytest
import torch

from divelab.scratch import SGD

pytestmark = pytest.mark.twin


def make_problem(seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """A small linear least-squares problem: initial (weight, bias), inputs X, targets Y (float64)."""
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(3, 4, generator=g, dtype=torch.float64)
    bias = torch.randn(3, generator=g, dtype=torch.float64)
    X = torch.randn(32, 4, generator=g, dtype=torch.float64)
    true_weight = torch.randn(4, 3, generator=g, dtype=torch.float64)
    Y = X @ true_weight + 0.1 * torch.randn(32, 3, generator=g, dtype=torch.float64)
    return [weight, bias], X, Y


def batch_loss(params: list[torch.Tensor], X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    weight, bias = params
    return ((X @ weight.T + bias - Y) ** 2).mean()


def leaves(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    return [t.clone().requires_grad_(True) for t in tensors]


@pytest.mark.parametrize("lr", [0.01, 0.1])
def test_follows_torch_sgd_step_by_step(lr: float) -> None:
    initial, X, Y = make_problem()
    mine, theirs = leaves(initial), leaves(initial)
    opt_mine, opt_theirs = SGD(mine, lr=lr), torch.optim.SGD(theirs, lr=lr)
    for step in range(25):
        rows = slice(8 * (step % 4), 8 * (step % 4) + 8)  # minibatches of 8, in turn
        for params, opt in ((mine, opt_mine), (theirs, opt_theirs)):
            opt.zero_grad()
            batch_loss(params, X[rows], Y[rows]).backward()
            opt.step()
        for a, b in zip(mine, theirs):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=0, msg=lambda m, s=step: f"step {s}: {m}")
    assert not torch.equal(mine[0], initial[0])  # it did move


def test_one_step_by_hand() -> None:
    p = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    (3 * p).sum().backward()  # gradient (3, 3)
    SGD([p], lr=0.5).step()
    assert torch.equal(p.detach(), torch.tensor([-0.5, 0.5], dtype=torch.float64))
    assert p.is_leaf and p.grad_fn is None  # the update is not recorded by autograd


def test_step_skips_parameters_without_gradient() -> None:
    used = torch.ones(2, requires_grad=True)
    unused = torch.ones(2, requires_grad=True)
    used.sum().backward()
    SGD([used, unused], lr=1.0).step()
    assert torch.equal(used.detach(), torch.zeros(2))
    assert torch.equal(unused.detach(), torch.ones(2))


def test_zero_grad_set_to_none() -> None:
    p = torch.ones(3, requires_grad=True)
    p.sum().backward()
    opt = SGD([p], lr=0.1)
    opt.zero_grad()
    assert p.grad is None


def test_zero_grad_keeps_a_zeroed_tensor() -> None:
    p = torch.ones(3, requires_grad=True)
    p.sum().backward()
    grad = p.grad
    SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad is grad
    assert torch.equal(p.grad, torch.zeros(3))


def test_gradients_accumulate_without_zero_grad_like_torch() -> None:
    initial, X, Y = make_problem(1)
    mine, theirs = leaves(initial), leaves(initial)
    for params, opt in ((mine, SGD(mine, lr=0.05)), (theirs, torch.optim.SGD(theirs, lr=0.05))):
        for _ in range(3):
            batch_loss(params, X, Y).backward()
            opt.step()
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_state_dict_round_trip() -> None:
    p = torch.zeros(2, requires_grad=True)
    saved = SGD([p], lr=0.25).state_dict()
    assert json.loads(json.dumps(saved)) == {"lr": 0.25}
    restored = SGD([p], lr=1.0)
    restored.load_state_dict(saved)
    assert restored.lr == 0.25 and restored.param_groups[0]["lr"] == 0.25
    p.sum().backward()
    restored.step()
    assert torch.equal(p.detach(), torch.full((2,), -0.25))


def test_load_state_dict_validates() -> None:
    opt = SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        opt.load_state_dict({})
    with pytest.raises(ValueError, match="learning rate"):
        opt.load_state_dict({"lr": -1.0})


def test_param_groups_look_like_torch_and_drive_the_step() -> None:
    p = torch.zeros(2, requires_grad=True)
    opt = SGD([p], lr=0.1)
    reference = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    assert len(opt.param_groups) == len(reference.param_groups) == 1
    assert opt.param_groups[0]["params"] == [p]
    assert opt.param_groups[0]["lr"] == reference.param_groups[0]["lr"]

    opt.param_groups[0]["lr"] = 0.5  # what an LR scheduler does
    p.sum().backward()
    opt.step()
    assert torch.equal(p.detach(), torch.full((2,), -0.5))
    assert opt.state_dict() == {"lr": 0.5}


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan")])
def test_rejects_non_positive_learning_rate(lr: float) -> None:
    with pytest.raises(ValueError, match="learning rate"):
        SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def test_rejects_empty_parameter_list() -> None:
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)


def test_accepts_a_generator_of_parameters() -> None:
    model = torch.nn.Linear(2, 1)
    opt = SGD(model.parameters(), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 2
