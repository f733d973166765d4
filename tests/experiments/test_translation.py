"""The translation experiments end to end on a tiny English→Spanish pairs file, and translating with a run."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import divelab
import divelab.runner
from divelab import cli, translate
from divelab.data.parallel import Preprocessing
from divelab.errors import UserError
from divelab.experiment import RunContext
from divelab.experiments import translation as translation_module
from divelab.train.distributed import World

TINY = {"epochs": 1, "batch_size": 16, "max_pairs": 0, "tokenizer": "word", "min_freq": 1, "num_steps": 12,
        "beam_size": 2, "max_len_b": 4, "max_len_a": 1.0, "examples": 2, "heatmaps": 1, "progress": False}
SIZES = {"seq2seq": {"embed_size": 8, "num_hiddens": 12, "num_layers": 1},
         "seq2seq-attention": {"embed_size": 8, "num_hiddens": 12, "num_layers": 1},
         "transformer": {"d_model": 16, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 1,
                         "dim_feedforward": 16}}


def write_toy_pairs(path: Path, n: int = 120, seed: int = 0) -> Path:
    """English→Spanish sentences from a toy grammar, word for word: ``fra.txt`` format with an attribution column."""
    rng = np.random.default_rng(seed)
    subjects = [("the king", "el rey"), ("the people", "el pueblo"), ("my brother", "mi hermano")]
    verbs = [("saw", "vio"), ("blessed", "bendijo"), ("loved", "amó")]
    objects = [("the city", "la ciudad"), ("the house", "la casa"), ("the river", "el río")]
    lines = []
    for _ in range(n):
        picks = (parts[rng.integers(len(parts))] for parts in (subjects, verbs, objects))
        (s_en, s_es), (v_en, v_es), (o_en, o_es) = picks
        lines.append(f"{s_en.capitalize()} {v_en} {o_en}.\t{s_es.capitalize()} {v_es} {o_es}.\tCC-BY toy")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def toy_pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny word-for-word pairs file used instead of the Bible via DIVELAB_PAIRS."""
    path = write_toy_pairs(tmp_path / "pairs.txt")
    monkeypatch.setenv("DIVELAB_PAIRS", str(path))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, divelab.runner.RunResult]:
    """One tiny run of each experiment (seq2seq with BPE subwords, the others with word tokens)."""
    root = tmp_path_factory.mktemp("translation")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("DIVELAB_PAIRS", str(write_toy_pairs(root / "pairs.txt")))
        monkeypatch.setenv("XDG_CACHE_HOME", str(root / "cache"))
        subword = {"seq2seq": {"tokenizer": "bpe", "vocab_size": 60}}
        return {name: divelab.run(name, out=root / name, **TINY | subword.get(name, {}), **SIZES[name])
                for name in SIZES}


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("name", list(SIZES))
def test_experiment_trains_decodes_and_scores(name, runs):
    out, summary = runs[name].out_dir, runs[name].summary
    for key in ("bleu", "bleu_greedy", "chrf", "train_tokens_per_s"):
        assert isinstance(summary[key], float) and math.isfinite(summary[key]), key
    assert 0 <= summary["bleu"] <= 100 and 0 <= summary["chrf"] <= 100 and summary["train_tokens_per_s"] > 0
    assert summary["test_pairs"] == 12  # a tenth of 120 pairs
    for file in ("test.src", "test.ref", "test.hyp", "test.greedy.hyp"):
        assert len(lines(out / file)) == 12, file
    assert lines(out / "test.ref") == [e.lower() for e in lines(out / "test.ref")]  # lower-cased references
    assert len(summary["examples"]) == 2 and set(summary["examples"][0]) == {"source", "reference", "greedy", "beam"}
    assert (out / "translation.json").is_file() and (out / "preprocessing.json").is_file()
    heatmaps = sorted(p.name for p in out.glob("attention-*.png"))
    assert heatmaps == ([] if name == "seq2seq" else ["attention-1.png"])
    achieved = 6 * summary["macs_per_target_token"] * summary["train_tokens_per_s"]
    assert summary["model_gflops_per_s"] * 1e9 == pytest.approx(achieved, rel=1e-6)
    assert summary["mfu"] == pytest.approx(summary["model_gflops_per_s"] / summary["peak_gflops_per_s"])
    assert 0 < summary["mfu"] < 1


@pytest.mark.parametrize("name", list(SIZES))
def test_translate_load_reproduces_the_runs_translations(name, runs):
    """translate.load rebuilds model and tokenizers from the run directory: test.hyp and test.greedy.hyp again."""
    out = runs[name].out_dir
    translator = translate.load(out)
    sources = lines(out / "test.src")
    assert translator.translate(sources) == lines(out / "test.hyp")
    assert translator.translate(sources, beam_size=1) == lines(out / "test.greedy.hyp")
    assert translator.translate([]) == []
    with pytest.raises(UserError, match="beam size"):
        translator.translate(sources, beam_size=0)


@pytest.mark.cli
def test_translate_command_reads_arguments_or_standard_input(runs, capsys, monkeypatch):
    out = runs["transformer"].out_dir
    sources = lines(out / "test.src")[:3]
    assert cli.main(["translate", str(out), *sources]) == 0
    assert capsys.readouterr().out.splitlines() == lines(out / "test.hyp")[:3]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(sources) + "\n\n"))
    assert cli.main(["translate", str(out), "--beam", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == [*lines(out / "test.greedy.hyp")[:3], ""]


class _Bytes:
    """A standard input that holds bytes, as a terminal or pipe does."""

    def __init__(self, data: bytes):
        self.buffer = io.BytesIO(data)


@pytest.mark.cli
def test_translate_answers_line_n_with_line_n(runs, capsys, monkeypatch):
    """Blank input lines come out blank, so output line N always answers input line N."""
    out = runs["transformer"].out_dir
    a, b = lines(out / "test.src")[:2]
    monkeypatch.setattr("sys.stdin", _Bytes(f"\n{a}\n  \n{b}\r\n".encode()))
    assert cli.main(["translate", str(out), "--beam", "1"]) == 0
    greedy = lines(out / "test.greedy.hyp")[:2]
    assert capsys.readouterr().out.split("\n") == ["", greedy[0], "", greedy[1], ""]


@pytest.mark.cli
def test_translate_rejects_standard_input_that_is_not_utf8(runs, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", _Bytes("good line\n".encode() + b"caf\xe9\n"))
    assert cli.main(["translate", str(runs["transformer"].out_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: standard input line 2 is not UTF-8") and err.count("\n") == 1


@pytest.mark.cli
@pytest.mark.parametrize("argv, message", [(["--beam", "0"], "beam size"), (["--device", "tpu"], "device")])
def test_translate_command_errors_are_one_line(runs, capsys, argv, message):
    assert cli.main(["translate", str(runs["seq2seq"].out_dir), "hello", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1


def test_subword_run_keeps_its_sentencepiece_models(runs):
    out = runs["seq2seq"].out_dir
    assert (out / "spm-src.model").is_file() and (out / "spm-tgt.model").is_file()
    assert len(translate.load(out).translate(["My brother loved the city."])) == 1


def test_translate_refuses_what_is_not_a_finished_translation_run(runs, tmp_path):
    with pytest.raises(UserError, match="not a finished translation run .no such directory"):
        translate.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no summary.json"):
        translate.load(tmp_path / "empty")
    other = tmp_path / "other"  # a finished run of another experiment
    other.mkdir()
    (other / "summary.json").write_text('{"experiment": "mlp"}')
    with pytest.raises(UserError, match="no translation.json"):
        translate.load(other)
    copy = tmp_path / "copy"
    shutil.copytree(runs["transformer"].out_dir, copy)
    record = json.loads((copy / "translation.json").read_text())
    record["args"]["d_model"] = 8
    (copy / "translation.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="weights do not fit"):
        translate.load(copy)


@pytest.mark.parametrize("settings, message", [
    ({"epochs": 0, "schedule": "constant"}, "epochs must be ≥ 1"),
    ({"d_model": 30, "nhead": 4}, "multiple of nhead"),
    ({"label_smoothing": 1.0}, "label_smoothing"),
    ({"tokenizer": "chars"}, "tokenizer must be one of"),
    ({"beam_size": 0}, "beam_size must be ≥ 1"),
])
def test_bad_settings_are_refused_before_anything_is_written(settings, message, toy_pairs, tmp_path):
    with pytest.raises(UserError, match=message):
        divelab.run("transformer", out=tmp_path / "bad", progress=False, **settings)
    assert not (tmp_path / "bad").exists()


def test_subset_keeps_order_and_size():
    corpus = translation_module.PairCorpus([(str(i), str(i)) for i in range(50)], [("a", "b")], [("c", "d")], "toy")
    small = translation_module.subset(corpus, 10, seed=0)
    assert len(small.train) == 10 and small.train == sorted(small.train, key=lambda p: int(p[0]))
    assert small.test == corpus.test and translation_module.subset(corpus, 0, seed=0) is corpus


def _context(out_dir: Path, rank: int) -> RunContext:
    return RunContext(experiment="transformer", config=translation_module.TransformerTranslationConfig(),
                      out_dir=out_dir, device=torch.device("cpu"), world=World(rank, 2))


@pytest.mark.parametrize("rank", [0, 1])
def test_only_process_zero_writes_the_translation_files(rank, runs, tmp_path):
    """In a torchrun launch process 1 must not write (nor create) anything in the run directory."""
    ctx = _context(tmp_path / "run", rank)
    prep = Preprocessing.load(runs["transformer"].out_dir)
    data = SimpleNamespace(prep=prep)
    translation_module._save_for_translate(ctx, data, "transformer", {}, translation_module.DecodeSettings())
    translation_module._write_lines(ctx, "test.hyp", ["una casa"])
    written = sorted(p.name for p in (tmp_path / "run").glob("*")) if (tmp_path / "run").exists() else []
    if rank == 0:
        assert {"preprocessing.json", "translation.json", "test.hyp", "config.json"} <= set(written)
    else:
        assert written == []
