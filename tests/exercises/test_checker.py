"""The checker's report: which cases pass, the first failing case in detail, the hint; the same
result as text, as an HTML table (Jupyter) and as JSON."""

from __future__ import annotations

import json

import torch

from divelab.exercises import check


def no_scaling(x, p, training=True):  # noqa: ANN001, ANN201 - a learner's function
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * (torch.rand_like(x) > p)


def test_report_names_the_first_failure_and_its_hint() -> None:
    result = check("dropout", no_scaling, seed=7)
    assert not result.passed and result.status == "failing"
    text = str(result)
    assert "first failing case: p = 0.5, train mode, shape (200, 200) [seed 7]" in text
    assert "scale of kept values (min, max): 2 of 2 values differ" in text and "expected 2" in text
    assert result.hint is not None and result.hint.id == "dropout-scale"
    assert sum(c.passed for c in result.cases) == 6  # p = 0, p = 1 and eval mode pass


def test_html_and_json_carry_the_same_result() -> None:
    result = check("dropout", no_scaling, seed=7)
    page = result._repr_html_()
    assert page.count("<tr>") == len(result.cases) + 1 and "dropout-scale" not in page and "hint" in page
    record = json.loads(json.dumps(result.to_json()))
    assert record["status"] == "failing" and record["hint"] == "dropout-scale"
    assert record["cases"][0]["mismatch"]["key"] == "scale of kept values (min, max)"


def test_errors_are_reported_with_the_learners_line() -> None:
    def broken(x, p, training=True):  # noqa: ANN001, ANN202
        return x @ torch.ones(3, dtype=x.dtype)

    result = check("dropout", broken)
    failure = result.first_failure
    assert failure is not None and failure.kind == "error" and "RuntimeError" in failure.error
    assert "return x @ torch.ones(3, dtype=x.dtype)" in failure.error
    assert result.hint is not None and result.hint.id == "error"


def test_calling_the_library_function_itself_is_refused() -> None:
    result = check("dropout", lambda x, p, training=True: torch.nn.functional.dropout(x, p, training))
    assert result.first_failure.kind == "forbidden" and result.hint.id == "forbidden"
    assert torch.nn.functional.dropout(torch.ones(3), 0.0).sum() == 3  # restored afterwards
