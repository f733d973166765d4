"""The twin comparison reports the first difference: kind, where, how large."""

from __future__ import annotations

import torch

from divelab.exercises.compare import compare_tensors, first_mismatch


def test_equal_within_tolerance_is_no_mismatch() -> None:
    a = torch.randn(3, 4, dtype=torch.float64)
    assert compare_tensors("x", a + 1e-9, a, atol=1e-7, rtol=0) is None
    nan = torch.tensor([float("nan"), float("inf")])
    assert compare_tensors("x", nan, nan.clone(), 0, 0) is None


def test_values_give_the_largest_error_and_its_index() -> None:
    want = torch.zeros(2, 3, dtype=torch.float64)
    got = want.clone()
    got[1, 2], got[0, 0] = 0.5, 0.1
    m = compare_tensors("output", got, want, atol=1e-7, rtol=0)
    assert m is not None and m.kind == "values" and m.index == (1, 2) and m.max_error == 0.5
    assert (m.bad, m.total) == (2, 6)
    assert "2 of 6 values differ" in m.describe() and "[1, 2]" in m.describe()


def test_shape_then_dtype_then_nonfinite() -> None:
    want = torch.ones(2, 3, dtype=torch.float64)
    assert compare_tensors("w", torch.ones(3, 2, dtype=torch.float64), want, 0, 0).kind == "shape"
    assert compare_tensors("w", torch.ones(2, 3), want, 0, 0).kind == "dtype"
    got = want.clone()
    got[0, 1] = float("nan")
    m = compare_tensors("w", got, want, 0, 0)
    assert m.kind == "nonfinite" and m.index == (0, 1)


def test_first_mismatch_follows_the_references_order_and_reports_missing() -> None:
    want = {"output": torch.zeros(2), "grad x": torch.zeros(2)}
    assert first_mismatch({"output": torch.zeros(2)}, want, (0, 0)).kind == "missing"
    got = {"output": torch.ones(2), "grad x": torch.ones(2)}
    assert first_mismatch(got, want, lambda key: (0, 0)).key == "output"
