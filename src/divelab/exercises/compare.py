"""The twin comparison: are two implementations' tensors the same, and if not, where and how not.

One mechanism serves the project's twin tests (``tests/twin.py`` asserts on it) and the
exercise checker (which reports it to a learner): given what each side computed, as named
tensors, find the first name whose shape, dtype or values differ, and say by how much and
where. A value matches when ``|got − want| ≤ atol + rtol · |want|`` elementwise (the rule of
``torch.testing.assert_close``); NaN matches NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Mismatch:
    """The first difference between two sets of tensors.

    ``kind``: ``missing`` (the reference has a tensor the other side does not, e.g. a
    gradient that never arrived), ``shape``, ``dtype``, ``nonfinite`` (NaN/inf where the
    reference is finite) or ``values``. For values, ``max_error`` is the largest absolute
    difference, at ``index``, where ``got_value`` was found and ``want_value`` expected.
    """

    key: str
    kind: str
    got_shape: tuple[int, ...] | None = None
    want_shape: tuple[int, ...] | None = None
    got_dtype: str | None = None
    want_dtype: str | None = None
    max_error: float | None = None
    index: tuple[int, ...] | None = None
    got_value: float | None = None
    want_value: float | None = None
    bad: int = 0
    total: int = 0

    def describe(self) -> str:
        """One or two lines for a person."""
        if self.kind == "missing":
            return f"{self.key}: missing (the reference has shape {self.want_shape})"
        if self.kind == "shape":
            return f"{self.key}: shape {self.got_shape}, expected {self.want_shape}"
        if self.kind == "dtype":
            return f"{self.key}: dtype {self.got_dtype}, expected {self.want_dtype}"
        where = f"at index {list(self.index)}" if self.index else "(a scalar)"
        what = "non-finite value" if self.kind == "nonfinite" else "largest error"
        return (f"{self.key}: {self.bad} of {self.total} values differ; {what} {self.max_error:.3g} {where}: "
                f"got {self.got_value:.6g}, expected {self.want_value:.6g}")


def _short_dtype(t: Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def compare_tensors(key: str, got: Tensor, want: Tensor, atol: float, rtol: float,
                    check_dtype: bool = True) -> Mismatch | None:
    """The difference between ``got`` and ``want`` (shape, then dtype, then values), or None."""
    if tuple(got.shape) != tuple(want.shape):
        return Mismatch(key, "shape", tuple(got.shape), tuple(want.shape), _short_dtype(got), _short_dtype(want))
    if check_dtype and got.dtype != want.dtype:
        return Mismatch(key, "dtype", tuple(got.shape), tuple(want.shape), _short_dtype(got), _short_dtype(want))
    g = got.detach().cpu().to(torch.float64) if not got.is_complex() else got.detach().cpu()
    w = want.detach().cpu().to(torch.float64) if not want.is_complex() else want.detach().cpu()
    both_nan = torch.isnan(g) & torch.isnan(w)
    same_inf = torch.isinf(g) & torch.isinf(w) & (g == w)
    error = (g - w).abs()
    bad = ~(both_nan | same_inf | (error <= atol + rtol * w.abs()))
    if not bad.any():
        return None
    nonfinite = bad & ~torch.isfinite(g) & torch.isfinite(w)
    if nonfinite.any():
        kind, flat = "nonfinite", int(nonfinite.flatten().nonzero()[0])
    else:
        kind = "values"
        scored = torch.where(bad, torch.nan_to_num(error, nan=float("inf")), torch.zeros_like(error))
        flat = int(scored.flatten().argmax())
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), g.shape)) if g.dim() else ()
    return Mismatch(key, kind, tuple(got.shape), tuple(want.shape), _short_dtype(got), _short_dtype(want),
                    max_error=float(error.flatten()[flat]), index=index,
                    got_value=float(g.flatten()[flat]), want_value=float(w.flatten()[flat]),
                    bad=int(bad.sum()), total=bad.numel())


def first_mismatch(got: Mapping[str, Tensor], want: Mapping[str, Tensor],
                   tolerance: Callable[[str], tuple[float, float]] | tuple[float, float],
                   check_dtype: bool = True) -> Mismatch | None:
    """Compare two dictionaries of tensors in the reference's order; the first difference, or None.

    ``tolerance`` is ``(atol, rtol)``, or a function of the key giving one.
    """
    for key, w in want.items():
        if key not in got:
            return Mismatch(key, "missing", want_shape=tuple(w.shape), want_dtype=_short_dtype(w))
        atol, rtol = tolerance(key) if callable(tolerance) else tolerance
        found = compare_tensors(key, got[key], w, atol, rtol, check_dtype)
        if found is not None:
            return found
    return None
