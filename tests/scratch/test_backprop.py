"""Twin tests for hand-written backpropagation: every layer's backward, whole networks, training.

Each hand-written ``backward`` is checked against autograd of the same torch op, in
float64, through the shared ``assert_twin`` helper (a tiny ``autograd.Function`` lets
autograd call the layer's own ``backward``). Whole networks are compared with an
``nn.Sequential`` twin holding the same weights, and training with ``torch.optim.SGD``
step for step.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from divelab.scratch.backprop import (
    MLP,
    Flatten,
    Linear,
    ReLU,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    build_mlp,
)
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

ATOL, RTOL = 1e-10, 1e-7  # float64: far below any real mistake, far above rounding


class ByHand(torch.autograd.Function):
    """Run a hand-written layer inside autograd: its forward, and its own ``backward`` for the gradient.

    ``ByHand.apply(layer, x, *params)``; ``params`` (weight, bias) are put into the layer
    first, and their gradients are read back from ``grad_weight`` / ``grad_bias``.
    """

    @staticmethod
    def forward(ctx, layer, x, *params):  # type: ignore[override]
        if params:
            layer.weight, layer.bias = (p.detach() for p in params)
        ctx.layer, ctx.has_params = layer, bool(params)
        return layer.forward(x.detach())

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        grad_x = ctx.layer.backward(grad_out)
        grads = (ctx.layer.grad_weight, ctx.layer.grad_bias) if ctx.has_params else ()
        return (None, grad_x, *grads)


class LossByHand(torch.autograd.Function):
    """``SoftmaxCrossEntropy`` inside autograd, its gradient from its own ``backward``."""

    @staticmethod
    def forward(ctx, criterion, logits, target):  # type: ignore[override]
        ctx.criterion = criterion
        return criterion.forward(logits.detach(), target)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        return None, ctx.criterion.backward(grad_out), None


def torch_twin(model: MLP) -> nn.Sequential:
    """The same network from ``nn`` layers with copies of ``model``'s weights."""
    kinds = {Flatten: nn.Flatten, ReLU: nn.ReLU, Sigmoid: nn.Sigmoid, Tanh: nn.Tanh}
    modules: list[nn.Module] = []
    for layer in model.layers:
        if isinstance(layer, Linear):
            twin = nn.Linear(layer.in_features, layer.out_features, dtype=layer.weight.dtype)
            with torch.no_grad():
                twin.weight.copy_(layer.weight)
                twin.bias.copy_(layer.bias)
            modules.append(twin)
        else:
            modules.append(kinds[type(layer)]())
    return nn.Sequential(*modules)


def randn(*shape: int, seed: int = 0, scale: float = 1.0) -> Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---- each layer's backward against autograd of the same op ----------------------------------

SHAPES = [(1, 1), (1, 7), (5, 3), (32, 17)]  # batch 1 included


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("layer_cls", "torch_fn"), [(ReLU, torch.relu), (Sigmoid, torch.sigmoid), (Tanh, torch.tanh)],
                         ids=["relu", "sigmoid", "tanh"])
def test_activation_backward_matches_autograd(layer_cls, torch_fn, shape):
    x = randn(*shape, seed=sum(shape), scale=3.0)
    assert_twin(lambda v: ByHand.apply(layer_cls(), v), torch_fn, x, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize(("n", "fan_in", "fan_out"), [(1, 1, 1), (1, 6, 4), (9, 5, 3), (64, 30, 12)])
def test_linear_backward_matches_autograd(n, fan_in, fan_out):
    """dW = gᵀx, db = Σg, dx = gW — for the weights and for the input."""
    layer = Linear(fan_in, fan_out, dtype=torch.float64)
    x, weight, bias = randn(n, fan_in, seed=1), randn(fan_out, fan_in, seed=2), randn(fan_out, seed=3)
    assert_twin(lambda v, w, b: ByHand.apply(layer, v, w, b), F.linear, x, weight, bias, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("shape", [(1, 1, 4, 4), (3, 2, 5), (6, 8)])
def test_flatten_backward_restores_the_shape(shape):
    assert_twin(lambda v: ByHand.apply(Flatten(), v), lambda v: v.reshape(v.shape[0], -1), randn(*shape),
                atol=0, rtol=0)


@pytest.mark.parametrize(("n", "classes", "scale"), [(1, 2, 1.0), (1, 10, 5.0), (8, 3, 1.0), (50, 10, 3.0),
                                                     (4, 5, 1e4)])
def test_softmax_cross_entropy_matches_autograd(n, classes, scale):
    """Loss and (softmax(z) − onehot(y)) / n, scaled by the upstream gradient; finite for logits ±1e4."""
    logits = randn(n, classes, seed=n, scale=scale)
    target = torch.randint(0, classes, (n,), generator=torch.Generator().manual_seed(n))
    loss = assert_twin(lambda z, y: LossByHand.apply(SoftmaxCrossEntropy(), z, y), F.cross_entropy,
                       logits, target, atol=ATOL, rtol=RTOL)
    assert torch.isfinite(loss)


def test_cross_entropy_gradient_formula_by_hand():
    """Two examples, two classes, worked out: ∂L/∂z = (softmax(z) − onehot(y)) / n."""
    criterion = SoftmaxCrossEntropy()
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]], dtype=torch.float64)
    criterion.forward(logits, torch.tensor([0, 1]))
    expected = torch.tensor([[0.5 - 1, 0.5], [0.25, 0.75 - 1]], dtype=torch.float64) / 2
    torch.testing.assert_close(criterion.backward(), expected, atol=1e-15, rtol=0)


@pytest.mark.parametrize("layer", [Flatten(), Linear(3, 2), ReLU(), Sigmoid(), Tanh(), SoftmaxCrossEntropy()],
                         ids=lambda layer: type(layer).__name__)
def test_backward_before_forward_is_an_error(layer):
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(torch.ones(2, 2))


def test_no_autograd_graph_is_built():
    """Even fed a tensor that requires grad, the hand-written network records nothing for autograd."""
    model = build_mlp([6, 5, 3], dtype=torch.float64)
    x = randn(4, 6).requires_grad_(True)
    logits = model.forward(x)
    loss = model.loss(logits, torch.tensor([0, 1, 2, 0]))
    grad_x = model.backward()
    assert not (logits.requires_grad or loss.requires_grad or grad_x.requires_grad)
    assert all(not grad.requires_grad and not param.requires_grad for _, param, grad in model.parameters_and_grads())


# ---- whole networks --------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 9),
    widths=st.lists(st.integers(1, 12), min_size=1, max_size=3),
    classes=st.integers(2, 6),
    activation=st.sampled_from(["relu", "sigmoid", "tanh"]),
    seed=st.integers(0, 2**16),
)
def test_network_gradients_equal_autograd(n, widths, classes, activation, seed):
    """Every parameter's gradient and ∂L/∂x of a random MLP equal autograd's (float64)."""
    generator = torch.Generator().manual_seed(seed)
    sizes = [12, *widths, classes]
    model = build_mlp(sizes, activation, std=0.5, generator=generator, dtype=torch.float64)
    twin = torch_twin(model)
    x = torch.randn(n, 3, 2, 2, generator=generator, dtype=torch.float64)  # flattened to 12
    y = torch.randint(0, classes, (n,), generator=generator)

    loss = model.loss(model.forward(x), y)
    grad_x = model.backward()
    x_leaf = x.clone().requires_grad_(True)
    twin_loss = F.cross_entropy(twin(x_leaf), y)
    twin_loss.backward()

    torch.testing.assert_close(loss, twin_loss.detach(), atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(grad_x, x_leaf.grad, atol=ATOL, rtol=RTOL)
    twin_params = dict(twin.named_parameters())
    assert len(twin_params) == len(model.parameters_and_grads())
    for name, _param, grad in model.parameters_and_grads():
        torch.testing.assert_close(grad, twin_params[name].grad, atol=ATOL, rtol=RTOL,
                                   msg=lambda m, k=name: f"{k}: {m}")


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_training_matches_autograd_step_for_step(activation):
    """Eight SGD steps on batches of changing size: losses and weights equal torch.optim.SGD's after each."""
    generator = torch.Generator().manual_seed(7)
    model = build_mlp([20, 16, 8, 4], activation, std=0.3, generator=generator, dtype=torch.float64)
    twin = torch_twin(model)
    initial = model.parameters_and_grads()[0][1].clone()
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.5)
    for step, n in enumerate([1, 5, 16, 3, 16, 1, 8, 11]):
        x = torch.randn(n, 20, generator=generator, dtype=torch.float64)
        y = torch.randint(0, 4, (n,), generator=generator)
        loss = model.loss(model.forward(x), y)
        model.backward()
        model.sgd_step(0.5)
        twin_loss = F.cross_entropy(twin(x), y)
        optimizer.zero_grad(set_to_none=True)
        twin_loss.backward()
        optimizer.step()
        torch.testing.assert_close(loss, twin_loss.detach(), atol=ATOL, rtol=RTOL)
        twin_params = dict(twin.named_parameters())
        for name, param, _grad in model.parameters_and_grads():
            torch.testing.assert_close(param, twin_params[name].detach(), atol=ATOL, rtol=RTOL,
                                       msg=lambda m, k=name, s=step: f"step {s}, {k}: {m}")
    assert (model.parameters_and_grads()[0][1] - initial).abs().max() > 1e-3  # training did move the weights


# ---- the container ---------------------------------------------------------------------------

def test_describe_graph_names_every_node():
    assert build_mlp([784, 256, 10]).describe_graph() == \
        "x → Flatten → Linear(784→256) → ReLU → Linear(256→10) → softmax-CE(y) → loss"
    deeper = "x → Flatten → Linear(4→3) → Tanh → Linear(3→3) → Tanh → Linear(3→2) → softmax-CE(y) → loss"
    assert build_mlp([4, 3, 3, 2], "tanh").describe_graph() == deeper


def test_build_mlp_shapes_and_init():
    model = build_mlp([784, 256, 10], generator=torch.Generator().manual_seed(0))
    params = {name: param for name, param, _ in model.parameters_and_grads()}
    assert {k: tuple(v.shape) for k, v in params.items()} == \
        {"1.weight": (256, 784), "1.bias": (256,), "3.weight": (10, 256), "3.bias": (10,)}
    assert model.num_parameters() == 784 * 256 + 256 + 256 * 10 + 10
    assert params["1.weight"].std().item() == pytest.approx(0.01, rel=0.02)
    assert params["3.bias"].abs().max().item() == 0
    assert model.forward(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize(("sizes", "activation"), [([5], "relu"), ([5, 0, 3], "relu"), ([5, 3], "gelu")])
def test_build_mlp_rejects_bad_arguments(sizes, activation):
    with pytest.raises(ValueError):
        build_mlp(sizes, activation)


def test_to_casts_parameters_and_gradients():
    model = build_mlp([4, 3, 2]).to(torch.float64)
    assert all(p.dtype == g.dtype == torch.float64 for _, p, g in model.parameters_and_grads())
