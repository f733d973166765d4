"""The twin test: a scratch implementation must agree with its PyTorch twin.

The idea (as in micrograd and tinygrad, which test themselves against PyTorch): feed
the same inputs to both, compare the outputs, then push the same upstream gradient
back through both and compare the gradients that reach every input. Both sides run
in float64 so that differences in rounding stay far below the tolerances, and any
real mistake in the math (or in its derivative) stands out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from divelab.exercises.compare import compare_tensors


def _leaf_copies(inputs: tuple[Any, ...]) -> list[Any]:
    """Fresh float64 leaves for floating tensors; everything else (targets, ints, None) as is."""
    copies = []
    for x in inputs:
        if isinstance(x, Tensor) and x.is_floating_point():
            x = x.detach().to(torch.float64).clone().requires_grad_(True)
        copies.append(x)
    return copies


def assert_twin(
    scratch_fn: Callable[..., Tensor],
    torch_fn: Callable[..., Tensor],
    *inputs: Any,
    atol: float = 1e-10,
    rtol: float = 1e-7,
    check_grad: bool = True,
) -> Tensor:
    """Assert that ``scratch_fn(*inputs)`` and ``torch_fn(*inputs)`` agree, values and gradients.

    Floating inputs are copied to float64 leaves that require gradients (one copy per
    side); integer tensors and other arguments pass through unchanged. The outputs must
    have the same shape and dtype and be close. With ``check_grad``, a random upstream
    gradient (seeded, the same for both) is backpropagated through each side and the
    gradients of every floating input must be close too.

    Returns the scratch side's output, for further checks (e.g. that it is finite).
    """
    scratch_inputs = _leaf_copies(inputs)
    torch_inputs = _leaf_copies(inputs)
    got = scratch_fn(*scratch_inputs)
    want = torch_fn(*torch_inputs)
    _assert_same("outputs", got, want, atol, rtol)
    if not check_grad:
        return got

    generator = torch.Generator().manual_seed(0)
    upstream = torch.randn(want.shape, generator=generator, dtype=want.dtype).to(want.device)
    got.backward(upstream)
    want.backward(upstream)
    for i, (mine, theirs) in enumerate(zip(scratch_inputs, torch_inputs)):
        if not (isinstance(mine, Tensor) and mine.is_floating_point()):
            continue
        assert mine.grad is not None, f"input {i}: no gradient reached it on the scratch side"
        assert theirs.grad is not None, f"input {i}: no gradient reached it on the torch side"
        _assert_same(f"gradients of input {i}", mine.grad, theirs.grad, atol, rtol)
    return got


def _assert_same(what: str, got: Tensor, want: Tensor, atol: float, rtol: float) -> None:
    """The exercise checker's comparison (one mechanism for both), as an assertion."""
    mismatch = compare_tensors(what, got, want, atol, rtol)
    assert mismatch is None, mismatch.describe()
