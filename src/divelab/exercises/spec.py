"""What an exercise is: the function a learner writes, the cases it is checked on, the hints.

An :class:`Exercise` names one piece of the course a learner writes by hand (a dropout
function, an LSTM cell, a beam-search step). It is checked by running a *probe* on each
:class:`Case`: the probe calls the implementation on the case's inputs and returns every
tensor worth comparing — the output, the gradients with respect to inputs and parameters,
updated buffers — under names such as ``"output"`` or ``"grad x"``. The same probe runs the
learner's function and the reference (the library twin, or the project's own solution where
no library has one), and :mod:`divelab.exercises.compare` compares the two dictionaries.

This module and the chapter modules import torch only (never the project's solutions): they
are loaded in the child process that runs a learner's file, where the solutions must not be.
Solutions are named by ``"module:attribute"`` strings and imported in the parent only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

Probe = Callable[[Callable[..., Any], dict[str, Any]], dict[str, Tensor]]
Difficulty = Literal["easy", "medium", "hard"]

DTYPE = torch.float64  # cases compute in double precision, so rounding stays far below the tolerances


@dataclass(frozen=True)
class Case:
    """One set of inputs: ``make(generator)`` returns the keyword arguments of the probe.

    ``name`` says what is special about it ("p = 1", "length-1 sequence", "eval mode"), and
    appears in reports and hint patterns.
    """

    name: str
    make: Callable[[torch.Generator], dict[str, Any]]


@dataclass(frozen=True)
class Hint:
    """The typical mistake behind a failure, shown with the first failing case.

    A hint applies when each given pattern (a regular expression) matches: ``key`` the
    compared name (``"running_var"``, ``"grad x"``), ``case`` the case's name, ``kind`` the
    kind of failure (``shape``, ``dtype``, ``values``, ``nonfinite``, ``missing``, ``error``,
    ``forbidden``, ``todo``).
    The first hint that applies is shown; ``id`` names it for tests.
    """

    id: str
    text: str
    key: str | None = None
    case: str | None = None
    kind: str | None = None

    def applies(self, key: str, case: str, kind: str, message: str = "") -> bool:
        pairs = ((self.key, key), (self.case, case), (self.kind, kind))
        return all(pattern is None or re.search(pattern, value) for pattern, value in pairs)


GENERIC_HINTS = (
    Hint("dtype", "make new tensors with the input's dtype and device (torch.zeros_like(x), "
         "dtype=x.dtype): the checker computes in float64", kind="dtype"),
    Hint("not-connected", "no gradient reached this input: the output must be computed from it by "
         "tensor operations (no .item(), .tolist(), .numpy(), .detach() or torch.tensor(...) of tensors)",
         key="^grad ", kind="missing"),
    Hint("missing", "your function did not return everything the reference does (see what is "
         "missing above): check the return value against the docstring", kind="missing"),
    Hint("shape", "the shapes differ: check which axis you reduce over and that matrices are not "
         "transposed (weights are stored (out_features, in_features))", kind="shape"),
    Hint("nonfinite", "the result holds NaN or inf where the reference is finite: an overflow "
         "(exp of a large number) or a division by zero", kind="nonfinite"),
    Hint("not-implemented", "the function still raises NotImplementedError: write its body", kind="todo"),
    Hint("forbidden", "the exercise is to write this yourself: use simpler tensor operations instead "
         "of the library function that computes it", kind="forbidden"),
    Hint("error", "your code raised an exception on this case (see the message and line above)", kind="error"),
    Hint("values", "the values differ: compare your formula with the docstring's, term by term", kind="values"),
    Hint("failed", "compare your function with the docstring's formula and shapes"),  # matches anything
)


@dataclass(frozen=True)
class Exercise:
    """One exercise: what to write, how it is checked, where the project's answer is.

    - ``entry``: the name of the function (or class) the learner's file defines.
    - ``signature``: its first line, as written into the skeleton (``def dropout(x: Tensor, …) -> Tensor:``).
    - ``task``: the skeleton's docstring: the formula, the shapes, what is allowed.
    - ``solution``: ``"module:attribute"`` of the project's implementation with the same
      signature; it is what ``divelab exercise solution`` prints (with ``source``, if
      given, instead) and what ``--set impl=`` replaces in an experiment.
    - ``reference``: the library twin the checker compares with (called with the learner's
      signature); None means the solution itself is the reference.
    - ``probe``, ``cases``: what is compared, on which inputs (see the module docstring).
    - ``forbidden``: dotted names of library functions that compute the thing itself; they
      raise while the learner's code runs.
    - ``tolerance``: ``(atol, rtol)``; ``key_tolerance`` per compared name (regex → pair).
    - ``imports``: the skeleton's import lines; ``experiments``: the experiments in which
      ``--set impl=FILE`` puts the learner's function in place of ``solution`` — wherever
      divelab's modules hold it, or, with ``swap_target`` (``"module:Class.attr"``), into
      that class attribute (the recurrent layers' ``cell``, which their fused path does not call).
    """

    name: str
    chapter: int
    title: str
    difficulty: Difficulty
    entry: str
    signature: str
    task: str
    solution: str
    probe: Probe
    cases: Callable[[], Sequence[Case]]
    reference: Callable[..., Any] | None = None
    source: tuple[str, ...] = ()
    hints: tuple[Hint, ...] = ()
    forbidden: tuple[str, ...] = ()
    tolerance: tuple[float, float] = (1e-7, 1e-6)
    key_tolerance: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    imports: str = "import torch\nfrom torch import Tensor"
    experiments: tuple[str, ...] = ()
    swap_target: str | None = None

    def tolerance_for(self, key: str) -> tuple[float, float]:
        for pattern, tol in self.key_tolerance.items():
            if re.search(pattern, key):
                return tol
        return self.tolerance

    def hint_for(self, key: str, case: str, kind: str) -> Hint:
        return next(h for h in (*self.hints, *GENERIC_HINTS) if h.applies(key, case, kind))


# ---- building blocks for probes -----------------------------------------------------------------

def randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> Tensor:
    """A float64 tensor of N(0, scale²) values drawn from ``g``."""
    return torch.randn(shape, generator=g, dtype=DTYPE) * scale


def leaf(x: Tensor) -> Tensor:
    """A fresh copy of ``x`` that collects gradients."""
    return x.detach().clone().requires_grad_(True)


def upstream_for(out: Tensor, seed: int = 0) -> Tensor:
    """A fixed random upstream gradient shaped like ``out``, the same for learner and reference."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(out.shape, generator=g, dtype=out.dtype if out.is_floating_point() else DTYPE)


def as_tensor(value: Any) -> Tensor:
    """What an implementation returned, as a tensor to compare (numbers and lists too)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, bool):
        return torch.tensor(value)
    if isinstance(value, (int, float)):
        return torch.tensor(value, dtype=DTYPE if isinstance(value, float) else torch.int64)
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"returned {type(value).__name__}, expected a tensor or a number") from None


def outputs_and_grads(fn: Callable[..., Any], args: Mapping[str, Any], grad_of: Sequence[str],
                      out_names: Sequence[str] = ("output",)) -> dict[str, Tensor]:
    """Call ``fn(**args)`` with the tensors named in ``grad_of`` as fresh leaves, then
    backpropagate a fixed random upstream gradient from every floating output.

    Returns ``{"output": …}`` (or one entry per name of ``out_names`` when ``fn`` returns a
    tuple) and ``{"grad NAME": …}`` for each input in ``grad_of``; a gradient that does not
    reach an input is absent, and the comparison reports it missing.
    """
    call = {k: (leaf(v) if k in grad_of else v) for k, v in args.items()}
    result = fn(**call)
    outs = result if isinstance(result, tuple) else (result,)
    if len(outs) != len(out_names):
        raise TypeError(f"returned {len(outs)} value(s), expected {len(out_names)} ({', '.join(out_names)})")
    found = {name: as_tensor(o) for name, o in zip(out_names, outs)}
    differentiable = [(o, upstream_for(o, i)) for i, o in enumerate(found.values())
                      if o.requires_grad]
    if differentiable:
        torch.autograd.backward([o for o, _ in differentiable], [u for _, u in differentiable])
    for name in grad_of:
        grad = call[name].grad
        if grad is not None:
            found[f"grad {name}"] = grad
    return {k: v.detach() for k, v in found.items()}


@contextmanager
def forbid(names: Sequence[str], exercise: str) -> Iterator[None]:
    """Make each dotted name (``torch.nn.functional.dropout``) raise while the block runs."""
    saved = []
    for dotted in names:
        owner, attr = _resolve_owner(dotted)
        if owner is None:
            continue
        saved.append((owner, attr, getattr(owner, attr)))

        def blocked(*_: Any, _name: str = dotted, **__: Any) -> Any:
            raise ForbiddenCall(f"{_name} computes what exercise {exercise!r} asks you to write; "
                                "build it from simpler tensor operations")
        setattr(owner, attr, blocked)
    try:
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


class ForbiddenCall(RuntimeError):
    """A learner's code called the library function the exercise replaces."""


def _resolve_owner(dotted: str) -> tuple[Any, str]:
    """The object holding the last part of ``dotted`` and that part's name; (None, name) when its
    module is not loaded (then nothing needs forbidding — and importing it might do harm)."""
    import sys

    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        obj: Any = sys.modules.get(".".join(parts[:cut]))
        if obj is None:
            continue
        for name in parts[cut:-1]:
            obj = getattr(obj, name, None)
        if obj is not None and hasattr(obj, parts[-1]):
            return obj, parts[-1]
        return None, parts[-1]
    return None, parts[-1]
