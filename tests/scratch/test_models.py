"""Twin tests for the scratch models: same weights in the torch model, same outputs and gradients."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.func import functional_call

import divelab.scratch as scratch
from divelab.scratch import LinearRegressionScratch, MLPScratch, SoftmaxRegressionScratch, cross_entropy
from tests.twin import assert_twin

pytestmark = pytest.mark.twin


def twin_models(scratch_model: nn.Module, torch_model: nn.Module, names: dict[str, str]):
    """Two functions ``f(x, *weights)`` that run each model with the given weights.

    ``names`` maps a scratch parameter name to the torch one holding the same tensor; passing
    the weights as inputs lets ``assert_twin`` copy them into both models and compare their
    gradients.
    """
    scratch_names, torch_names = list(names), list(names.values())

    def run_scratch(x, *weights):
        return functional_call(scratch_model, dict(zip(scratch_names, weights)), (x,))

    def run_torch(x, *weights):
        return functional_call(torch_model, dict(zip(torch_names, weights)), (x,))

    weights = [getattr(scratch_model, name) for name in scratch_names]
    return run_scratch, run_torch, weights


def test_linear_regression_matches_nn_linear() -> None:
    torch.manual_seed(0)
    model = LinearRegressionScratch(5, std=0.5)
    run_scratch, run_torch, weights = twin_models(model, nn.Linear(5, 1), {"weight": "weight", "bias": "bias"})
    x = torch.randn(7, 5)
    y = torch.randn(7)
    out = assert_twin(run_scratch, lambda x, *w: run_torch(x, *w).squeeze(-1), x, *weights)
    assert out.shape == (7,)
    # the gradients of a squared loss
    assert_twin(
        lambda x, y, *w: ((run_scratch(x, *w) - y) ** 2).mean(),
        lambda x, y, *w: F.mse_loss(run_torch(x, *w).squeeze(-1), y),
        x,
        y,
        *weights,
    )


@settings(max_examples=10, deadline=None)
@given(batch=st.integers(1, 6), classes=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_softmax_regression_matches_flatten_linear(batch: int, classes: int, seed: int) -> None:
    torch.manual_seed(seed)
    model = SoftmaxRegressionScratch(num_inputs=12, num_outputs=classes, std=0.5)
    reference = nn.Sequential(nn.Flatten(), nn.Linear(12, classes))
    run_scratch, run_torch, weights = twin_models(model, reference, {"weight": "1.weight", "bias": "1.bias"})
    x = torch.randn(batch, 1, 3, 4)  # image-shaped input, flattened by both
    y = torch.randint(classes, (batch,))
    assert_twin(run_scratch, run_torch, x, *weights)
    assert_twin(
        lambda x, y, *w: cross_entropy(run_scratch(x, *w), y),
        lambda x, y, *w: F.cross_entropy(run_torch(x, *w), y),
        x,
        y,
        *weights,
    )


@settings(max_examples=10, deadline=None)
@given(batch=st.integers(1, 6), hiddens=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_mlp_matches_sequential(batch: int, hiddens: int, seed: int) -> None:
    torch.manual_seed(seed)
    model = MLPScratch(num_inputs=12, num_hiddens=hiddens, num_outputs=4, std=0.5)
    reference = nn.Sequential(nn.Flatten(), nn.Linear(12, hiddens), nn.ReLU(), nn.Linear(hiddens, 4))
    names = {"w1": "1.weight", "b1": "1.bias", "w2": "3.weight", "b2": "3.bias"}
    run_scratch, run_torch, weights = twin_models(model, reference, names)
    # Random biases, so that some hidden units are switched off and ReLU's kink matters.
    weights[1] = torch.randn(hiddens)
    x = torch.randn(batch, 3, 4)
    y = torch.randint(4, (batch,))
    assert_twin(run_scratch, run_torch, x, *weights)
    assert_twin(
        lambda x, y, *w: cross_entropy(run_scratch(x, *w), y),
        lambda x, y, *w: F.cross_entropy(run_torch(x, *w), y),
        x,
        y,
        *weights,
    )


def test_mlp_after_copying_weights_into_torch_layers() -> None:
    # The same comparison, written the plain way: copy the parameters, run both, compare .grad.
    torch.manual_seed(1)
    model = MLPScratch(num_inputs=6, num_hiddens=5, num_outputs=3, std=0.5).double()
    reference = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)).double()
    pairs = [(model.w1, reference[1].weight), (model.b1, reference[1].bias),
             (model.w2, reference[3].weight), (model.b2, reference[3].bias)]  # fmt: skip
    with torch.no_grad():
        for mine, theirs in pairs:
            theirs.copy_(mine)
    x = torch.randn(8, 2, 3, dtype=torch.float64)
    y = torch.randint(3, (8,))
    out, ref_out = model(x), reference(x)
    torch.testing.assert_close(out, ref_out, atol=1e-10, rtol=1e-7)
    cross_entropy(out, y).backward()
    F.cross_entropy(ref_out, y).backward()
    for mine, theirs in pairs:
        torch.testing.assert_close(mine.grad, theirs.grad, atol=1e-10, rtol=1e-7)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: LinearRegressionScratch(5), {"weight": (1, 5), "bias": (1,)}),
        (lambda: SoftmaxRegressionScratch(), {"weight": (10, 784), "bias": (10,)}),
        (lambda: MLPScratch(), {"w1": (256, 784), "b1": (256,), "w2": (10, 256), "b2": (10,)}),
    ],
)
def test_parameters_names_shapes_and_init(make, expected) -> None:
    torch.manual_seed(0)
    model = make()
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == expected
    assert list(model.state_dict()) == list(expected)
    for name, p in model.named_parameters():
        assert p.dtype == torch.float32 and p.requires_grad
        if name.startswith("b"):
            assert torch.equal(p, torch.zeros_like(p))
        elif p.numel() >= 1000:  # enough draws to check the spread: std=0.01
            assert abs(p.std().item() - 0.01) < 0.001


@pytest.mark.parametrize("make", [lambda: LinearRegressionScratch(5), SoftmaxRegressionScratch, MLPScratch])
def test_manual_seed_makes_init_reproducible(make) -> None:
    torch.manual_seed(3)
    first = make().state_dict()
    torch.manual_seed(3)
    again = make().state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_output_shapes() -> None:
    x = torch.randn(4, 1, 28, 28)
    assert LinearRegressionScratch(3)(torch.randn(4, 3)).shape == (4,)
    assert SoftmaxRegressionScratch()(x).shape == (4, 10)
    assert MLPScratch()(x).shape == (4, 10)


def test_models_follow_to_dtype_and_device() -> None:
    model = MLPScratch(num_inputs=6, num_hiddens=5, num_outputs=3).double()
    assert model(torch.randn(2, 6, dtype=torch.float64)).dtype == torch.float64
    # The meta device stands in for any accelerator.
    model = model.to("meta")
    assert model(torch.empty(2, 6, dtype=torch.float64, device="meta")).device.type == "meta"


def test_scratch_code_never_calls_its_twins(monkeypatch) -> None:
    """The forward math must be hand-written: make every twin raise and run all scratch code."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a scratch function called its PyTorch twin")

    for name in ("linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "logsumexp", "cross_entropy"):
        for owner in (torch, F, torch.Tensor):
            if hasattr(owner, name):
                monkeypatch.setattr(owner, name, forbidden)

    x = torch.randn(4, 6, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    scratch.relu_grad(x)
    for fn in (scratch.relu, scratch.sigmoid, scratch.tanh, scratch.sigmoid_grad, scratch.tanh_grad):
        fn(x).sum().backward()
    for fn in (scratch.softmax.softmax, scratch.log_softmax, scratch.logsumexp):
        fn(x).sum().backward()
    scratch.cross_entropy(MLPScratch(6, 5, 3)(x), y).backward()
    scratch.cross_entropy(SoftmaxRegressionScratch(6, 3)(x), y).backward()
    LinearRegressionScratch(6)(x).sum().backward()
    assert x.grad is not None


@pytest.mark.parametrize("name, function", [("softmax", "softmax"), ("linear", "linear")])
def test_the_submodules_are_not_hidden_by_their_functions(name: str, function: str) -> None:
    """``import divelab.scratch.softmax as m`` gives the module (a package-level re-export of the
    function of the same name used to replace it), and the function lives in it."""
    import importlib
    import inspect

    module = importlib.import_module(f"divelab.scratch.{name}")
    assert inspect.ismodule(getattr(scratch, name)) and getattr(scratch, name) is module
    namespace: dict = {}
    exec(f"import divelab.scratch.{name} as m", namespace)
    assert namespace["m"] is module and callable(getattr(module, function))
