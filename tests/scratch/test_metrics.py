"""Tests for the accuracy metrics, against a hand-computed case and the one-line torch version."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from divelab.scratch import accuracy, correct
from tests.twin import assert_twin

pytestmark = pytest.mark.twin


def test_hand_computed_case() -> None:
    output = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    target = torch.tensor([1, 1, 1, 0])  # rows 0, 2 and 3 are right, row 1 is wrong
    assert correct(output, target).item() == 3
    assert accuracy(output, target) == 0.75


def test_correct_is_a_0dim_integer_tensor() -> None:
    count = correct(torch.eye(3), torch.tensor([0, 1, 0]))
    assert isinstance(count, torch.Tensor)
    assert count.dim() == 0 and count.dtype == torch.int64
    assert count.item() == 2


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), classes=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_matches_torch_one_liner(n: int, classes: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    output = torch.randn(n, classes, generator=g)
    target = torch.randint(classes, (n,), generator=g)
    assert accuracy(output, target) == pytest.approx((output.argmax(-1) == target).float().mean().item())
    assert_twin(
        correct,
        lambda out, y: (out.argmax(-1) == y).sum(),
        output,
        target,
        check_grad=False,
    )


def test_accepts_leading_dimensions() -> None:
    output = torch.zeros(2, 3, 4)
    output[..., 1] = 1.0  # every position predicts class 1
    target = torch.tensor([[1, 0, 1], [1, 2, 2]])  # 3 of 6 right
    assert correct(output, target).item() == 3
    assert accuracy(output, target) == 0.5


def test_rejects_bad_shapes_and_empty_batches() -> None:
    with pytest.raises(ValueError, match="shape"):
        correct(torch.zeros(4, 3), torch.zeros(4, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))


def test_correct_stays_on_the_device() -> None:
    # The meta device stands in for any accelerator: the count must not come back to the CPU.
    count = correct(torch.empty(4, 3, device="meta"), torch.empty(4, dtype=torch.long, device="meta"))
    assert count.device.type == "meta"
