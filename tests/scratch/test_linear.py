"""Twin tests for the affine layer and its initialisation."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from divelab.scratch.linear import init_linear, linear
from tests.twin import assert_twin

pytestmark = pytest.mark.twin


@settings(max_examples=30, deadline=None)
@given(
    batch=st.integers(1, 9),
    n_in=st.integers(1, 13),
    n_out=st.integers(1, 11),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_matches_torch(batch: int, n_in: int, n_out: int, with_bias: bool, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n_in, generator=g)
    w = torch.randn(n_out, n_in, generator=g)
    b = torch.randn(n_out, generator=g) if with_bias else None
    assert_twin(linear, F.linear, x, w, b)


def test_linear_keeps_leading_dimensions() -> None:
    g = torch.Generator().manual_seed(1)
    x, w, b = torch.randn(2, 3, 5, generator=g), torch.randn(7, 5, generator=g), torch.randn(7, generator=g)
    out = assert_twin(linear, F.linear, x, w, b)
    assert out.shape == (2, 3, 7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_linear_preserves_dtype(dtype: torch.dtype) -> None:
    x, w, b = torch.ones(4, 3, dtype=dtype), torch.ones(2, 3, dtype=dtype), torch.ones(2, dtype=dtype)
    out = linear(x, w, b)
    assert out.dtype == dtype
    assert torch.equal(out, torch.full((4, 2), 4.0, dtype=dtype))


def test_init_linear_shapes_dtype_and_zero_bias() -> None:
    w, b = init_linear(5, 3, dtype=torch.float64, device="cpu")
    assert w.shape == (3, 5) and b.shape == (3,)
    assert w.dtype == b.dtype == torch.float64
    assert torch.equal(b, torch.zeros(3, dtype=torch.float64))
    assert not torch.equal(w, torch.zeros_like(w))


@pytest.mark.parametrize("std", [0.01, 0.5, 2.0])
def test_init_linear_statistics(std: float) -> None:
    # 60,000 draws: the sample std has a standard error of about 0.3 % of std, the mean
    # one of 0.4 % of std, so the bounds below sit many standard errors away.
    w, _ = init_linear(300, 200, std=std, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(w.std().item() - std) < 0.02 * std
    assert abs(w.mean().item()) < 0.02 * std


def test_init_linear_same_seed_same_tensors() -> None:
    first = init_linear(6, 4, generator=torch.Generator().manual_seed(42))
    again = init_linear(6, 4, generator=torch.Generator().manual_seed(42))
    other = init_linear(6, 4, generator=torch.Generator().manual_seed(43))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])


def test_init_linear_global_rng_follows_manual_seed() -> None:
    torch.manual_seed(7)
    first, _ = init_linear(6, 4)
    torch.manual_seed(7)
    again, _ = init_linear(6, 4)
    assert torch.equal(first, again)


def test_init_linear_on_another_device_keeps_the_draw() -> None:
    # The meta device stands in for any accelerator: nothing may be created on the CPU by mistake.
    w, b = init_linear(6, 4, device="meta")
    assert w.device.type == "meta" and b.device.type == "meta"


def test_init_linear_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="std"):
        init_linear(3, 2, std=-1.0)
    with pytest.raises(ValueError, match="floating"):
        init_linear(3, 2, dtype=torch.int64)
