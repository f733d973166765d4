"""Checking an implementation against the reference, case by case, and the report a learner reads.

The work is split at the process boundary. :func:`learner_outputs` runs the learner's
function on every case and keeps what the probe returns (or the exception it raised); it is
what the sandboxed child process runs. :func:`judge` computes the reference's tensors on the
same inputs, compares, and builds the :class:`CheckResult`; it runs in the parent, where the
reference lives. :func:`check` is both in one process, for notebooks::

    from divelab import exercises
    exercises.check("dropout", my_dropout)     # prints a report; a table in Jupyter
"""

from __future__ import annotations

import html
import importlib
import linecache
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from divelab.exercises.compare import Mismatch, first_mismatch
from divelab.exercises.spec import Exercise, ForbiddenCall, Hint, forbid

SEEDS_PER_CASE = 2


@dataclass
class Outcome:
    """What the learner's code gave on one case: tensors, or the failure that stopped it."""

    tensors: dict[str, Tensor] = field(default_factory=dict)
    kind: str | None = None      # "error", "forbidden" or "todo" (NotImplementedError) when it failed
    error: str | None = None     # "ValueError: … (line 12: return x @ w)"


@dataclass
class CaseResult:
    """One case (inputs of one shape, one seed) and whether the learner's code matched."""

    case: str
    seed: int
    passed: bool
    kind: str | None = None
    mismatch: Mismatch | None = None
    error: str | None = None
    compared: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.case} [seed {self.seed}]"

    def reason(self) -> str:
        if self.passed:
            return "ok"
        if self.mismatch is not None:
            return self.mismatch.describe()
        return self.error or self.kind or "failed"


@dataclass
class CheckResult:
    """A whole check of one exercise: every case, the hint for the first failure, or the
    problem that kept the file from being checked at all (syntax error, time limit, …)."""

    exercise: str
    seed: int
    cases: list[CaseResult] = field(default_factory=list)
    problem: str | None = None
    hint: Hint | None = None
    seconds: float = 0.0
    output: str = ""  # what the learner's code printed (sandboxed runs), shown with a problem

    @property
    def passed(self) -> bool:
        return self.problem is None and bool(self.cases) and all(c.passed for c in self.cases)

    @property
    def status(self) -> str:
        if self.passed:
            return "passing"
        if self.problem is None and self.cases and all(c.kind == "todo" for c in self.cases):
            return "not started"
        return "failing"

    @property
    def first_failure(self) -> CaseResult | None:
        return next((c for c in self.cases if not c.passed), None)

    def reason(self) -> str:
        """One line: why it fails (or "all N cases pass")."""
        if self.problem is not None:
            return self.problem
        failure = self.first_failure
        if failure is None:
            return f"all {len(self.cases)} cases pass"
        return f"{failure.label}: {failure.reason()}"

    def __str__(self) -> str:
        passed = sum(c.passed for c in self.cases)
        lines = [f"{self.exercise}: {self.status.upper()} — {passed}/{len(self.cases)} cases pass "
                 f"(seed {self.seed}, {self.seconds:.1f} s)"]
        if self.problem is not None:
            lines.append(f"  problem: {self.problem}")
            if self.output.strip():
                lines.append("  it printed:\n" + "\n".join("    " + ln for ln in self.output.strip().splitlines()[-10:]))
        for c in self.cases:
            lines.append(f"  {'ok  ' if c.passed else 'FAIL'} {c.label}")
        failure = self.first_failure
        if failure is not None and self.problem is None:
            lines.append(f"first failing case: {failure.label}")
            if failure.compared:
                lines.append(f"  compared: {', '.join(failure.compared)}")
            lines.append(f"  {failure.reason()}")
        if self.hint is not None and not self.passed:
            lines.append(f"hint: {self.hint.text}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#cf222e"
        rows = "".join(
            f"<tr><td>{html.escape(c.label)}</td><td style='color:{'#1a7f37' if c.passed else '#cf222e'}'>"
            f"{'pass' if c.passed else 'fail'}</td><td>{html.escape(c.reason())}</td></tr>" for c in self.cases)
        problem = f"<p><b>problem:</b> {html.escape(self.problem)}</p>" if self.problem else ""
        hint = f"<p><b>hint:</b> {html.escape(self.hint.text)}</p>" if self.hint and not self.passed else ""
        return (f"<div><p><b>{html.escape(self.exercise)}</b>: <span style='color:{colour}'>{self.status}</span>"
                f" (seed {self.seed})</p>{problem}<table><tr><th>case</th><th>result</th><th>detail</th></tr>"
                f"{rows}</table>{hint}</div>")

    def to_json(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "status": self.status, "passed": self.passed, "seed": self.seed,
                "reason": self.reason(), "hint": self.hint.id if self.hint and not self.passed else None,
                "problem": self.problem, "seconds": round(self.seconds, 3),
                "cases": [{"case": c.case, "seed": c.seed, "passed": c.passed, "reason": c.reason(),
                           "mismatch": asdict(c.mismatch) if c.mismatch else None} for c in self.cases]}


def resolve(target: str) -> Any:
    """``"package.module:Attr.attr"`` → the object."""
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def reference_of(exercise: Exercise) -> Callable[..., Any]:
    return exercise.reference if exercise.reference is not None else resolve(exercise.solution)


def case_seeds(exercise: Exercise, seed: int) -> list[tuple[str, int, Callable[[torch.Generator], dict[str, Any]]]]:
    """Every (case name, seed, input maker) of a check: each case at ``SEEDS_PER_CASE`` seeds."""
    return [(case.name, seed + 1000 * i + j, case.make)
            for i, case in enumerate(exercise.cases()) for j in range(SEEDS_PER_CASE)]


def _inputs(make: Callable[[torch.Generator], dict[str, Any]], seed: int) -> dict[str, Any]:
    return make(torch.Generator().manual_seed(seed))


def learner_outputs(exercise: Exercise, fn: Callable[..., Any], seed: int) -> list[Outcome]:
    """Run ``fn`` through the exercise's probe on every case, with the library's version of the
    thing itself forbidden; a failure on one case does not stop the others."""
    outcomes = []
    for _name, case_seed, make in case_seeds(exercise, seed):
        try:
            inputs = _inputs(make, case_seed)
            torch.manual_seed(case_seed)  # code that draws from the global RNG draws the same each time
            with forbid(exercise.forbidden, exercise.name):
                tensors = exercise.probe(fn, inputs)
            outcomes.append(Outcome({k: v.detach() for k, v in tensors.items()}))
        except NotImplementedError:
            outcomes.append(Outcome(kind="todo", error="raises NotImplementedError (not written yet)"))
        except (Exception, SystemExit) as exc:  # the learner's code, any failure (Ctrl-C still stops)
            kind = "forbidden" if isinstance(exc, ForbiddenCall) else "error"
            outcomes.append(Outcome(kind=kind, error=describe_exception(exc)))
    return outcomes


def describe_exception(exc: BaseException) -> str:
    """``"ValueError: bad shape (line 12: return x @ w.T)"``: the exception and the learner's line."""
    if isinstance(exc, SystemExit):
        text = f"called sys.exit({exc.code!r})"
    elif isinstance(exc, ForbiddenCall):
        text = f"forbidden: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}".strip()
    if len(text) > 300:
        text = text[:297] + "…"
    frame = _learner_frame(exc)
    if frame is not None:
        line = linecache.getline(frame.filename, frame.lineno or 0).strip()
        text += f" (line {frame.lineno}{': ' + line if line else ''})"
    return text


def _learner_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of the traceback that is neither divelab's nor a library's."""
    skip = ("divelab", "site-packages", "torch", sys.prefix, sys.base_prefix)
    frames = traceback.extract_tb(exc.__traceback__)
    theirs = [f for f in frames if not any(s in f.filename for s in skip)]
    return theirs[-1] if theirs else None


def judge(exercise: Exercise, outcomes: list[Outcome], seed: int, seconds: float = 0.0) -> CheckResult:
    """Compare the learner's outcomes with the reference on the same inputs; the first failure's hint."""
    reference = reference_of(exercise)
    result = CheckResult(exercise.name, seed, seconds=seconds)
    for (name, case_seed, make), outcome in zip(case_seeds(exercise, seed), outcomes, strict=True):
        if outcome.kind is not None:
            result.cases.append(CaseResult(name, case_seed, False, outcome.kind, error=outcome.error))
            continue
        torch.manual_seed(case_seed)
        want = exercise.probe(reference, _inputs(make, case_seed))
        mismatch = first_mismatch(outcome.tensors, want, exercise.tolerance_for)
        result.cases.append(CaseResult(name, case_seed, mismatch is None, mismatch and mismatch.kind,
                                       mismatch=mismatch, compared=tuple(want)))
    failure = result.first_failure
    if failure is not None:
        key = failure.mismatch.key if failure.mismatch else ""
        result.hint = exercise.hint_for(key, failure.case, failure.kind or "error")
    return result


def check(exercise: Exercise | str, fn: Callable[..., Any], seed: int = 0) -> CheckResult:
    """Check ``fn`` in this process (no time or memory limit: for one's own code in a notebook)."""
    if isinstance(exercise, str):
        from divelab.exercises.registry import get_exercise

        exercise = get_exercise(exercise)
    start = time.perf_counter()
    outcomes = learner_outputs(exercise, fn, seed)
    return judge(exercise, outcomes, seed, time.perf_counter() - start)
