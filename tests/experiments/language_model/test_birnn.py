"""``birnn`` end to end on the fake text, and the share of generated words the training text knows."""

from __future__ import annotations

import pytest

import divelab
from divelab.experiments.language_model.birnn import known_word_share
from divelab.experiments.language_model.common import PREFIXES
from tests.experiments.language_model.checks import TINY, check_units, records


def test_birnn_reports_both_models(fake_text, tmp_path):
    result = divelab.run("birnn", epochs=1, out=tmp_path / "b", progress=False, **TINY)
    s = result.summary
    assert "backward" in s["note"]
    for name in ("lstm", "birnn"):
        check_units(s, f"_{name}")
        (record,) = records(tmp_path / "b", name)
        assert s[f"test_bpc_{name}"] == record["test_bpc"]
        assert 0 <= s[f"known_words_{name}"] <= 1
        assert set(s[f"samples_{name}"]) == set(PREFIXES)
    assert {p.name for p in result.figures} == {"curves-lstm.png", "curves-birnn.png", "birnn.png"}
    assert (tmp_path / "b" / "samples.txt").read_text().count("===") == 2 * 2 * len(PREFIXES)


def test_known_word_share():
    assert known_word_share(["a b", "zz"], {"a", "b"}) == pytest.approx(2 / 3)
    assert known_word_share([" "], {"a"}) is None
