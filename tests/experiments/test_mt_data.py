"""mt-data end to end on a toy pairs file (through the runner), and its settings checks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import divelab
from divelab.config import build_config
from divelab.data.parallel import PairsError
from divelab.errors import UserError
from divelab.experiments import EXPERIMENTS
from divelab.experiments.mt_data import MTDataConfig, truncation_rate, unk_rate
from tests.conftest import write_fake_pairs


def test_run_reports_corpus_statistics(fake_pairs: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = divelab.run("mt-data", out=out, progress=False, num_steps=8, vocab_size=60, examples=2)
    s = result.summary
    assert json.loads((out / "summary.json").read_text()) == s
    for key in EXPERIMENTS["mt-data"].headline:
        assert isinstance(s[key], (int, float)) and math.isfinite(s[key]), key
    assert (s["pairs_train"], s["pairs_val"], s["pairs_test"]) == (240, 30, 30)
    assert s["reserved"] == ["<unk>", "<pad>", "<bos>", "<eos>"]
    assert sorted(p.name for p in out.glob("spm-*.model")) == s["subword_models"] == ["spm-src.model", "spm-tgt.model"]
    assert [p.name for p in result.figures] == ["lengths.png"] and result.figures[0].stat().st_size > 1000
    # made-up names seen once are <unk> as words (min_freq 2), never as subwords (every letter was seen)
    assert s["test_unk_rate_src_word"] > 0.02 and s["test_unk_rate_src_subword"] == 0
    assert s["vocab_src_word"] < s["vocab_src_word_all"]
    # "Does NAME see the PLACE?" is 7 tokens + <eos> = 8: fits; longer subword spellings are cut
    assert s["max_len_src_word"] == 7 and s["truncation_rate_src_word"] == 0
    assert s["truncation_rate_src_subword"] > 0 and s["tensor_shapes"]["src"] == [240, 8]
    example = s["examples"][0]
    assert example["src_len"] == len(example["source_words"]) + 1 and len(example["src_ids"]) == 8
    assert example["src_ids"][example["src_len"] - 1] == 3 and set(example["src_ids"][example["src_len"]:]) <= {1}
    assert example["tgt_in_ids"][0] == 2 and example["tgt_in_ids"][1:example["tgt_len"]] == \
        example["tgt_out_ids"][:example["tgt_len"] - 1]
    assert "".join(example["source_pieces"]).replace("▁", " ").strip() == example["source"].lower()


def test_pairs_setting_reads_a_user_file_and_rejects_a_bad_one(fake_pairs: Path, tmp_path: Path) -> None:
    other = write_fake_pairs(tmp_path / "other.txt", n=100, seed=1)
    summary = divelab.run("mt-data", out=tmp_path / "a", progress=False, pairs=str(other), vocab_size=60).summary
    assert summary["pairs"] == str(other) and summary["pairs_test"] == 10
    bad = tmp_path / "bad.txt"
    bad.write_text("no tab here\n")
    with pytest.raises(PairsError, match="line 1 has no tab"):
        divelab.run("mt-data", out=tmp_path / "b", progress=False, pairs=str(bad))
    assert not (tmp_path / "b").exists()                                   # nothing written before the data is read


@pytest.mark.parametrize("setting, value", [("min_freq", 0), ("num_steps", 1), ("vocab_size", 4),
                                            ("examples", -1), ("pairs", " ")])
def test_bad_settings_are_user_errors(setting: str, value: object) -> None:
    with pytest.raises(UserError, match=setting):
        build_config(MTDataConfig, {setting: value})


def test_rates() -> None:
    assert unk_rate([["a", "b"], ["zz"]], {"a", "b"}) == pytest.approx(1 / 3)
    assert unk_rate([], {"a"}) == 0
    assert truncation_rate([3, 4, 5], num_steps=5) == pytest.approx(1 / 3)  # 5 tokens + <eos> > 5
