"""Twin tests for softmax, log_softmax, logsumexp and cross_entropy, including extreme logits."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from divelab.scratch.softmax import cross_entropy, log_softmax, logsumexp, softmax
from tests.twin import assert_twin

pytestmark = pytest.mark.twin

# Each scratch function with its twin, both taking (x, dim).
PAIRS = [
    pytest.param(softmax, F.softmax, id="softmax"),
    pytest.param(log_softmax, F.log_softmax, id="log_softmax"),
    pytest.param(logsumexp, torch.logsumexp, id="logsumexp"),
]

# Rows that break a naive implementation: overflow, underflow, ties, huge next to tiny.
EXTREME_LOGITS = torch.tensor(
    [
        [1e4, -1e4, 0.0, 1.0],
        [-1e4, -1e4, -1e4, -1e4],
        [1e4, 1e4, 1e4, 1e4],
        [1e4, 1e-4, -1e-4, -1e4],
        [0.0, 0.0, 0.0, 0.0],
        [3.0, 3.0, 3.0, 3.0],
        [-1e4, 2.0, -1e4, 1e4],
    ],
    dtype=torch.float64,
)


@pytest.mark.parametrize(("scratch_fn", "torch_fn"), PAIRS)
@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 7), min_size=1, max_size=3),
    scale=st.sampled_from([1.0, 10.0, 100.0]),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_matches_torch_on_random_shapes(scratch_fn, torch_fn, shape, scale, seed, data) -> None:
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x = scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    assert_twin(lambda t: scratch_fn(t, dim), lambda t: torch_fn(t, dim), x)


@pytest.mark.parametrize(("scratch_fn", "torch_fn"), PAIRS)
def test_extreme_logits_stay_finite_and_match(scratch_fn, torch_fn) -> None:
    out = assert_twin(lambda t: scratch_fn(t, -1), lambda t: torch_fn(t, -1), EXTREME_LOGITS)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(("scratch_fn", "torch_fn"), PAIRS)
def test_extreme_logits_in_float32(scratch_fn, torch_fn) -> None:
    x = EXTREME_LOGITS.float().requires_grad_(True)
    out = scratch_fn(x, -1)
    out.sum().backward()
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    torch.testing.assert_close(out, torch_fn(EXTREME_LOGITS.float(), -1))


def test_cross_entropy_extreme_logits_in_float32() -> None:
    target = torch.tensor([1, 0, 3, 3, 2, 0, 0])
    logits = EXTREME_LOGITS.float().requires_grad_(True)
    loss = cross_entropy(logits, target, "none")
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(logits.grad).all()
    torch.testing.assert_close(loss, F.cross_entropy(EXTREME_LOGITS.float(), target, reduction="none"))


def test_softmax_rows_are_probabilities() -> None:
    p = softmax(EXTREME_LOGITS)
    assert (p >= 0).all()
    torch.testing.assert_close(p.sum(-1), torch.ones(len(p), dtype=p.dtype))


def test_logsumexp_keepdim() -> None:
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert_twin(lambda t: logsumexp(t, 0, keepdim=True), lambda t: torch.logsumexp(t, 0, keepdim=True), x)


def test_logsumexp_of_all_minus_inf_is_minus_inf() -> None:
    x = torch.full((2, 3), float("-inf"), dtype=torch.float64)
    torch.testing.assert_close(logsumexp(x), torch.logsumexp(x, -1))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), classes=st.integers(1, 11), seed=st.integers(0, 2**16))
def test_cross_entropy_matches_torch(reduction, n, classes, seed) -> None:
    g = torch.Generator().manual_seed(seed)
    logits = 5 * torch.randn(n, classes, generator=g)
    target = torch.randint(classes, (n,), generator=g)
    assert_twin(
        lambda z, y: cross_entropy(z, y, reduction),
        lambda z, y: F.cross_entropy(z, y, reduction=reduction),
        logits,
        target,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_extreme_logits(reduction) -> None:
    # Targets include the -1e4 class, whose loss is about 2e4: large, but finite.
    target = torch.tensor([1, 0, 3, 3, 2, 0, 0])
    out = assert_twin(
        lambda z, y: cross_entropy(z, y, reduction),
        lambda z, y: F.cross_entropy(z, y, reduction=reduction),
        EXTREME_LOGITS,
        target,
    )
    assert torch.isfinite(out).all()


def test_cross_entropy_hand_computed() -> None:
    # Two equal logits: each class has probability 1/2, so the loss is log 2.
    loss = cross_entropy(torch.zeros(1, 2, dtype=torch.float64), torch.tensor([1]))
    assert loss.item() == pytest.approx(torch.log(torch.tensor(2.0)).item())


def test_cross_entropy_rejects_bad_arguments() -> None:
    logits, target = torch.zeros(3, 4), torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match="reduction"):
        cross_entropy(logits, target, reduction="average")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target"):
        cross_entropy(logits, target.unsqueeze(1))
    with pytest.raises(ValueError, match="int64"):
        cross_entropy(logits, target.float())
    with pytest.raises(ValueError, match="logits"):
        cross_entropy(logits.flatten(), target)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_dtype_is_preserved(dtype) -> None:
    x, y = torch.randn(4, 5).to(dtype), torch.tensor([0, 1, 2, 3])
    for out in (softmax(x), log_softmax(x), logsumexp(x), cross_entropy(x, y)):
        assert out.dtype == dtype


def test_runs_on_other_devices() -> None:
    # The meta device stands in for any accelerator: no tensor may be created on the CPU.
    x, y = torch.empty(4, 5, device="meta"), torch.empty(4, dtype=torch.long, device="meta")
    for out in (softmax(x), log_softmax(x), logsumexp(x), cross_entropy(x, y)):
        assert out.device.type == "meta"
