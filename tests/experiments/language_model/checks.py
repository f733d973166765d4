"""What the language-model tests share: tiny settings, a run's metric records, the units check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

TINY = {"hidden_size": 16, "embed_size": 8, "num_steps": 8, "batch_size": 4, "max_chars": 3000,
        "sample_tokens": 12}


def records(directory: Path, name: str = "") -> list[dict]:
    path = directory / (f"metrics-{name}.jsonl" if name else "metrics.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_units(r: dict, suffix: str = "") -> None:
    """perplexity = e^loss, bits = loss / ln 2, hence bits = log2(perplexity)."""
    loss = r[f"test_loss{suffix}"] if f"test_loss{suffix}" in r else math.log(r[f"test_ppl{suffix}"])
    assert r[f"test_ppl{suffix}"] == pytest.approx(math.exp(loss))
    assert r[f"test_bpc{suffix}"] == pytest.approx(loss / math.log(2))
    assert r[f"test_bpc{suffix}"] == pytest.approx(math.log2(r[f"test_ppl{suffix}"]))
