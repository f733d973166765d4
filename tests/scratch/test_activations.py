"""Twin tests for relu, sigmoid, tanh and their hand-written derivatives."""

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from divelab.scratch import relu, relu_grad, sigmoid, sigmoid_grad, tanh, tanh_grad
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

ACTIVATIONS = [
    pytest.param(relu, torch.relu, id="relu"),
    pytest.param(sigmoid, torch.sigmoid, id="sigmoid"),
    pytest.param(tanh, torch.tanh, id="tanh"),
]

# Zero (where derivatives have their special cases), huge, tiny, and near-overflow values.
SPECIAL = torch.tensor(
    [0.0, 1e4, -1e4, 1e-12, -1e-12, 1e-300, 0.5, -0.5, 20.0, -20.0, 50.0, -50.0, 700.0, -700.0, 800.0, -800.0],
    dtype=torch.float64,
)


def autograd_derivative(torch_fn):
    """f'(x) by autograd of the twin; create_graph so the derivative itself can be differentiated."""

    def derivative(x: torch.Tensor) -> torch.Tensor:
        (grad,) = torch.autograd.grad(torch_fn(x).sum(), x, create_graph=True)
        return grad

    return derivative


@pytest.mark.parametrize(("scratch_fn", "torch_fn"), ACTIVATIONS)
@settings(max_examples=20, deadline=None)
@given(
    shape=st.lists(st.integers(1, 9), min_size=1, max_size=3),
    scale=st.sampled_from([1.0, 5.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_on_random_values(scratch_fn, torch_fn, shape, scale, seed) -> None:
    x = scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    assert_twin(scratch_fn, torch_fn, x)


@pytest.mark.parametrize(("scratch_fn", "torch_fn"), ACTIVATIONS)
def test_matches_torch_on_special_values(scratch_fn, torch_fn) -> None:
    out = assert_twin(scratch_fn, torch_fn, SPECIAL)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(("scratch_fn", "torch_fn"), ACTIVATIONS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_large_inputs_stay_finite_without_warnings(scratch_fn, torch_fn, dtype) -> None:
    big = 6e4 if dtype == torch.float16 else 1e4  # float16 tops out at 65504
    x = torch.tensor([-big, -100.0, 0.0, 100.0, big], dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = scratch_fn(x)
        out.sum().backward()
    assert out.dtype == dtype
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    torch.testing.assert_close(out, torch_fn(x.detach()))


@pytest.mark.parametrize(("scratch_fn", "torch_fn"), [ACTIVATIONS[1], ACTIVATIONS[2]])
def test_relative_precision_for_tiny_inputs(scratch_fn, torch_fn) -> None:
    # atol=0: a value of 1e-12 must be right to many digits, not just close to 0
    # (1 - exp(-2x) would keep only about 4 digits of tanh(1e-12)).
    x = torch.logspace(-300, -1, 61, dtype=torch.float64)
    assert_twin(scratch_fn, torch_fn, torch.cat([x, -x]), atol=0, rtol=1e-12)


def test_known_values() -> None:
    x = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    assert torch.equal(relu(x), torch.tensor([0.0, 0.0, 3.0], dtype=torch.float64))
    assert sigmoid(x)[1].item() == 0.5
    assert tanh(x)[1].item() == 0.0
    assert tanh(torch.tensor(1e4)).item() == 1.0 and sigmoid(torch.tensor(-1e4)).item() == 0.0


def test_relu_propagates_nan() -> None:
    assert torch.isnan(relu(torch.tensor([float("nan")]))).all()


@pytest.mark.parametrize(
    ("derivative", "torch_fn"),
    [
        pytest.param(sigmoid_grad, torch.sigmoid, id="sigmoid_grad"),
        pytest.param(tanh_grad, torch.tanh, id="tanh_grad"),
    ],
)
@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_smooth_derivatives_match_autograd(derivative, torch_fn, scale) -> None:
    # check_grad also compares the second derivatives, through autograd of our formula.
    x = torch.cat([SPECIAL, scale * torch.randn(50, generator=torch.Generator().manual_seed(3), dtype=torch.float64)])
    assert_twin(derivative, autograd_derivative(torch_fn), x)


def test_relu_grad_matches_autograd() -> None:
    x = torch.cat([SPECIAL, torch.randn(50, generator=torch.Generator().manual_seed(4), dtype=torch.float64)])
    out = assert_twin(relu_grad, autograd_derivative(torch.relu), x, check_grad=False)
    assert out[0].item() == 0.0  # the derivative at exactly 0


def test_derivatives_at_zero() -> None:
    zero = torch.zeros(1, dtype=torch.float64)
    assert relu_grad(zero).item() == 0.0
    assert sigmoid_grad(zero).item() == 0.25
    assert tanh_grad(zero).item() == 1.0


@pytest.mark.parametrize("fn", [relu, relu_grad, sigmoid, sigmoid_grad, tanh, tanh_grad])
def test_runs_on_other_devices(fn) -> None:
    # The meta device stands in for any accelerator: no tensor may be created on the CPU.
    assert fn(torch.empty(3, device="meta")).device.type == "meta"
