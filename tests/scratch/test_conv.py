"""Twin tests for scratch convolution and pooling against F.conv2d, F.max_pool2d, F.avg_pool2d.

Shapes are drawn by hypothesis: batch 1 to 3, 1 to 4 channels in and out, non-square
inputs and kernels (1×1 included), strides 1 to 3 per axis, padding up to 2 (up to half
the kernel for pooling). Values and gradients are compared in float64 with the shared
helper's tolerances (``atol=1e-10, rtol=1e-7``): a wrong index or a missing term moves
results by O(1).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from divelab.scratch.conv import (AvgPool2dScratch, Conv2dScratch, MaxPool2dScratch, avg_pool2d, conv2d, corr2d,
                                  max_pool2d, output_size)
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

EXAMPLES = settings(max_examples=40, deadline=None)


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@st.composite
def conv_cases(draw: st.DrawFn) -> dict:
    """A conv2d call whose kernel fits into the padded input."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    return {"n": draw(st.integers(1, 3)), "c_in": draw(st.integers(1, 4)), "c_out": draw(st.integers(1, 4)),
            "h": draw(st.integers(max(1, kh - 2 * ph), kh + 6)), "w": draw(st.integers(max(1, kw - 2 * pw), kw + 6)),
            "kernel": (kh, kw), "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))), "padding": (ph, pw),
            "bias": draw(st.booleans()), "seed": draw(st.integers(0, 2**16))}


@st.composite
def pool_cases(draw: st.DrawFn) -> dict:
    """A pooling call obeying torch's rules: padding ≤ kernel // 2, the window fits the padded input."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    return {"shape": (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(max(1, kh - 2 * ph), kh + 6)),
                      draw(st.integers(max(1, kw - 2 * pw), kw + 6))),
            "kernel": (kh, kw), "stride": stride, "padding": (ph, pw), "seed": draw(st.integers(0, 2**16))}


# ---- conv2d and corr2d ------------------------------------------------------------------------

@EXAMPLES
@given(conv_cases())
def test_conv2d_matches_torch(case: dict) -> None:
    x = _randn(case["n"], case["c_in"], case["h"], case["w"], seed=case["seed"])
    weight = _randn(case["c_out"], case["c_in"], *case["kernel"], seed=case["seed"] + 1)
    bias = _randn(case["c_out"], seed=case["seed"] + 2) if case["bias"] else None
    out = assert_twin(conv2d, F.conv2d, x, weight, bias, case["stride"], case["padding"])
    expected = [output_size(s, k, st_, p) for s, k, st_, p in
                zip((case["h"], case["w"]), case["kernel"], case["stride"], case["padding"])]
    assert list(out.shape) == [case["n"], case["c_out"], *expected]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", [
    ((1, 1, 5, 5), (1, 1, 1, 1), 1, 0),           # 1×1 kernel, batch 1
    ((4, 3, 6, 9), (5, 3, 1, 1), 2, 0),           # 1×1 with stride: picks every other pixel
    ((2, 3, 7, 11), (4, 3, 2, 5), (2, 3), (1, 2)),  # non-square everything
    ((3, 2, 8, 8), (6, 2, 8, 8), 1, 0),           # kernel as large as the input: one output pixel
    ((2, 1, 1, 1), (2, 1, 3, 3), 1, 1),           # a 1×1 image, padded to 3×3
    ((2, 2, 5, 4), (3, 2, 3, 3), 5, 1),           # stride larger than the kernel: pixels skipped
])
def test_conv2d_named_cases(x_shape, w_shape, stride, padding) -> None:
    x, weight, bias = _randn(*x_shape, seed=1), _randn(*w_shape, seed=2), _randn(w_shape[0], seed=3)
    out = assert_twin(conv2d, F.conv2d, x, weight, bias, stride, padding)
    assert out.is_contiguous()


def test_conv2d_keeps_float32() -> None:
    x, weight = torch.randn(2, 3, 6, 6), torch.randn(4, 3, 3, 3)
    out = conv2d(x, weight, padding=1)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, F.conv2d(x, weight, padding=1), atol=1e-5, rtol=1e-5)


def test_corr2d_course_example() -> None:
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert torch.equal(corr2d(X, K), torch.tensor([[19.0, 25.0], [37.0, 43.0]]))


@pytest.mark.parametrize("x_shape, k_shape", [((6, 8), (1, 2)), ((5, 5), (3, 3)), ((4, 7), (4, 1)), ((3, 3), (1, 1))])
def test_corr2d_is_one_channel_conv2d(x_shape, k_shape) -> None:
    assert_twin(corr2d, lambda X, K: F.conv2d(X[None, None], K[None, None])[0, 0],
                _randn(*x_shape, seed=4), _randn(*k_shape, seed=5))


def test_corr2d_finds_vertical_edges_only() -> None:
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    K = torch.tensor([[1.0, -1.0]])
    Y = corr2d(X, K)
    expected = torch.zeros(6, 7)
    expected[:, 1], expected[:, 5] = 1, -1
    assert torch.equal(Y, expected)
    assert torch.equal(corr2d(X.T, K), torch.zeros(8, 5))


# ---- pooling ------------------------------------------------------------------------------------

@EXAMPLES
@given(pool_cases())
def test_max_pool2d_matches_torch(case: dict) -> None:
    x = _randn(*case["shape"], seed=case["seed"])
    assert_twin(max_pool2d, F.max_pool2d, x, case["kernel"], case["stride"], case["padding"])


@EXAMPLES
@given(pool_cases(), st.booleans())
def test_avg_pool2d_matches_torch(case: dict, count_include_pad: bool) -> None:
    x = _randn(*case["shape"], seed=case["seed"])
    assert_twin(lambda x: avg_pool2d(x, case["kernel"], case["stride"], case["padding"], count_include_pad),
                lambda x: F.avg_pool2d(x, case["kernel"], case["stride"], case["padding"],
                                       count_include_pad=count_include_pad), x)


@pytest.mark.parametrize("values", ["zeros", "few_integers"])
def test_max_pool2d_gives_a_tie_gradient_to_the_first_maximum(values: str) -> None:
    """Ties everywhere: torch's gradient goes to one element per window, not shared."""
    g = torch.Generator().manual_seed(6)
    x = torch.zeros(2, 3, 7, 6, dtype=torch.float64) if values == "zeros" else \
        torch.randint(0, 3, (2, 3, 7, 6), generator=g).double()
    assert_twin(max_pool2d, F.max_pool2d, x, 3, 2, 1)
    assert_twin(max_pool2d, F.max_pool2d, x, (2, 3), 1, (1, 0))


def test_pooling_course_examples() -> None:
    X = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(max_pool2d(X, 3), torch.tensor([[[[10.0]]]]))
    assert torch.equal(max_pool2d(X, 3, padding=1, stride=2), torch.tensor([[[[5.0, 7.0], [13.0, 15.0]]]]))
    assert torch.equal(max_pool2d(X, (2, 3), stride=(2, 3), padding=(0, 1)),
                       torch.tensor([[[[5.0, 7.0], [13.0, 15.0]]]]))
    X = torch.arange(9.0).reshape(1, 3, 3)  # (C, H, W) without a batch axis
    assert torch.equal(max_pool2d(X, 2, 1), torch.tensor([[[4.0, 5.0], [7.0, 8.0]]]))
    assert torch.equal(avg_pool2d(X, 2, 1), torch.tensor([[[2.0, 3.0], [5.0, 6.0]]]))


def test_avg_pool2d_counts_the_padding_by_default() -> None:
    x = torch.ones(1, 1, 2, 2, dtype=torch.float64)
    corner = 1 / 4  # a 2×2 window at the corner of the zero-padded input sees one real pixel
    assert avg_pool2d(x, 2, padding=1)[0, 0, 0, 0].item() == corner
    assert avg_pool2d(x, 2, padding=1, count_include_pad=False)[0, 0, 0, 0].item() == 1.0


# ---- modules ------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, kwargs", [((3, 5, 3), {"padding": 1}), ((2, 4, (2, 5)), {"stride": (2, 1)}),
                                          ((1, 6, 5), {"padding": 2, "bias": False}), ((4, 2, 1), {})])
def test_conv2d_module_twin(args, kwargs) -> None:
    """Same weights (copied) → same outputs and parameter gradients as nn.Conv2d."""
    mine, theirs = Conv2dScratch(*args, **kwargs).double(), nn.Conv2d(*args, **kwargs).double()
    mine.load_state_dict(theirs.state_dict())
    x = _randn(3, args[0], 9, 8, seed=7)
    out_mine, out_theirs = mine(x), theirs(x)
    torch.testing.assert_close(out_mine, out_theirs, atol=1e-10, rtol=1e-7)
    upstream = _randn(*out_theirs.shape, seed=8)
    out_mine.backward(upstream)
    out_theirs.backward(upstream)
    for (name, p), q in zip(mine.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-10, rtol=1e-7, msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("args, kwargs", [((3, 5, 3), {}), ((2, 4, (2, 5)), {}), ((16, 8, 1), {"bias": False}),
                                          ((64, 32, 3), {"padding": 1})])
def test_conv2d_module_init_equals_nn_conv2d_from_the_same_seed(args, kwargs) -> None:
    torch.manual_seed(11)
    mine = Conv2dScratch(*args, **kwargs)
    torch.manual_seed(11)
    theirs = nn.Conv2d(*args, **kwargs)
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for p, q in zip(mine.parameters(), theirs.parameters()):
        assert p.shape == q.shape and torch.equal(p, q)
    fan_in = args[0] * math.prod(mine.weight.shape[2:])
    assert mine.weight.abs().max() <= 1 / math.sqrt(fan_in)


def test_pool_modules_twin() -> None:
    x = _randn(2, 3, 9, 7, seed=9)
    assert_twin(MaxPool2dScratch((3, 2), stride=2, padding=1), nn.MaxPool2d((3, 2), stride=2, padding=1), x)
    assert_twin(AvgPool2dScratch(3, padding=1, count_include_pad=False),
                nn.AvgPool2d(3, padding=1, count_include_pad=False), x)
    assert_twin(AvgPool2dScratch(2), nn.AvgPool2d(2), x)


# ---- bad arguments ------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: conv2d(torch.randn(1, 3, 5, 5), torch.randn(2, 4, 3, 3)), "3 channels but weight expects 4"),
    (lambda: conv2d(torch.randn(1, 3, 5, 5), torch.randn(2, 3, 3, 3), torch.randn(3)), "bias must have shape"),
    (lambda: conv2d(torch.randn(1, 1, 4, 4), torch.randn(1, 1, 7, 3), padding=1), "larger than the padded input"),
    (lambda: conv2d(torch.randn(3, 5, 5), torch.randn(2, 3, 3, 3)), r"\(N, C_in, H, W\)"),
    (lambda: conv2d(torch.randn(1, 1, 5, 5), torch.randn(1, 1, 3, 3), stride=0), "stride must be an int ≥ 1"),
    (lambda: conv2d(torch.randn(1, 1, 5, 5), torch.randn(1, 1, 3, 3), padding=(1, -1)), "padding must be"),
    (lambda: conv2d(torch.randn(1, 1, 5, 5), torch.randn(1, 1, 3, 3), stride=(1, 2, 3)), "stride must be"),
    (lambda: corr2d(torch.randn(1, 5, 5), torch.randn(2, 2)), "2-D array and a 2-D kernel"),
    (lambda: corr2d(torch.randn(3, 5), torch.randn(4, 2)), "larger than the padded input"),
    (lambda: max_pool2d(torch.randn(1, 1, 5, 5), 3, padding=2), "at most half the kernel"),
    (lambda: avg_pool2d(torch.randn(1, 1, 5, 5), (4, 2), padding=(2, 2)), "at most half the kernel"),
    (lambda: max_pool2d(torch.randn(1, 1, 2, 5), 4, padding=0), "larger than the padded input"),
    (lambda: avg_pool2d(torch.randn(5, 5), 2), r"\(N, C, H, W\) or \(C, H, W\)"),
    (lambda: MaxPool2dScratch(2, padding=3), "at most half the kernel"),
    (lambda: Conv2dScratch(0, 3, 3), "≥ 1 input and output channels"),
    (lambda: Conv2dScratch(1, 3, (3, 0)), "kernel_size must be"),
    (lambda: max_pool2d(torch.randn(1, 1, 5, 5), 2.5), "kernel_size must be"),
])
def test_bad_arguments_raise_value_errors(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_torch_rejects_the_same_pooling_padding(pool) -> None:
    """The padding rule checked above is torch's own, not one made up here."""
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        pool(torch.randn(1, 1, 5, 5), 3, padding=2)
