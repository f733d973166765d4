"""The command-line contract of DESIGN.md: list, run, show, and one-line errors with exit 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import divelab
from divelab.cli import main

pytestmark = pytest.mark.cli


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_user_error(code, err, pattern):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert pattern in lines[0], lines[0]


def test_list_json_has_the_contract_fields(capsys):
    code, out, _ = _run(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0
    assert {"linreg", "mlp", "mlp-scratch", "softmax", "activations"} <= {r["name"] for r in rows}
    assert all({"name", "topic", "description"} <= r.keys() for r in rows)


def test_run_writes_the_contract_files(capsys, fake_data, tmp_path):
    code, out, _ = _run(capsys, "run", "softmax", "--epochs", "2", "--batch-size", "64", "--lr", "0.2",
                        "--seed", "3", "--device", "cpu", "--out", "r", "--quiet")
    assert code == 0
    config = json.loads((tmp_path / "r/config.json").read_text())
    assert (config["settings"]["epochs"], config["settings"]["batch_size"], config["seed"]) == (2, 64, 3)
    assert {"torch", "divelab", "python"} <= config["versions"].keys()
    records = [json.loads(line) for line in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    summary = json.loads((tmp_path / "r/summary.json").read_text())
    assert {"seconds", "test_acc", "train_acc", "train_loss", "test_loss"} <= summary.keys()
    assert (tmp_path / "r/curves.png").is_file() and (tmp_path / "r/checkpoint/state.json").is_file()
    assert "r/curves.png" in out

    code, out, _ = _run(capsys, "show", "r")
    assert code == 0 and "test_acc" in out and "curves.png" in out


@pytest.mark.parametrize("argv, pattern", [
    (["run", "mpl"], "unknown experiment 'mpl'; did you mean mlp"),
    (["run", "mlp", "--set", "hiden=3"], "unknown setting 'hiden'"),
    (["run", "mlp", "--set", "hidden=wide"], "hidden must be an integer"),
    (["run", "mlp", "--set", "hidden"], "--set expects key=value"),
    (["run", "mlp", "--lr", "0"], "lr must be a positive number"),
    (["run", "mlp", "--lr", "-0.1"], "lr must be a positive number"),
    (["run", "mlp", "--batch-size", "0"], "batch_size must be ≥ 1"),
    (["run", "mlp", "--epochs", "many"], "epochs must be an integer"),
    (["run", "mlp", "--epochs", "2", "--set", "epochs=3"], "epochs given twice"),
    (["run", "mlp", "--bogus"], "unrecognized arguments"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
    (["show", "nowhere"], "holds no divelab run"),
    (["run", "linreg", "--resume"], "no checkpoint in runs/linreg"),
])
def test_user_mistakes_are_one_line_errors(capsys, argv, pattern):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse usage errors exit from inside parse_args
        code = exit_.code
    _, err = capsys.readouterr()
    _assert_user_error(code, err, pattern)


def test_cuda_without_a_gpu_is_a_user_error(capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    code, _, err = _run(capsys, "run", "linreg", "--device", "cuda")
    _assert_user_error(code, err, "sees no CUDA GPU")


def _previous_run(tmp_path, capsys):
    code, _, _ = _run(capsys, "run", "linreg", "--out", "prev", "--quiet")
    assert code == 0
    return {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "prev").rglob("*") if p.is_file()}


def _unchanged(tmp_path, before):
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "prev").rglob("*") if p.is_file()}
    assert after == before


def test_missing_data_is_an_error_and_earlier_results_stay(capsys, tmp_path, monkeypatch):
    before = _previous_run(tmp_path, capsys)
    monkeypatch.setenv("DIVELAB_DATA", str(tmp_path / "no-such-dir"))
    code, _, err = _run(capsys, "run", "mlp", "--out", "prev", "--quiet")
    _assert_user_error(code, err, "does not exist")
    _unchanged(tmp_path, before)


def test_zero_epochs_is_refused_and_the_finished_run_stays(capsys, tmp_path):
    before = _previous_run(tmp_path, capsys)
    code, _, err = _run(capsys, "run", "linreg", "--out", "prev", "--epochs", "0", "--quiet")
    _assert_user_error(code, err, "epochs must be ≥ 1 (--epochs N), got 0")
    _unchanged(tmp_path, before)


def test_zero_epochs_is_allowed_where_the_untrained_network_is_the_point(capsys, fake_data, tmp_path):
    code, _, _ = _run(capsys, "run", "grad-flow", "--out", "gf", "--epochs", "0", "--quiet")
    assert code == 0 and (tmp_path / "gf" / "summary.json").is_file()


def test_corrupt_data_is_rejected_by_name(capsys, fake_data, tmp_path):
    before = _previous_run(tmp_path, capsys)
    (fake_data / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bgarbage")
    code, _, err = _run(capsys, "run", "softmax", "--out", "prev", "--quiet")
    _assert_user_error(code, err, "train-labels-idx1-ubyte.gz is a damaged gzip file")
    _unchanged(tmp_path, before)


def test_resume_of_another_experiment_is_refused(capsys, tmp_path):
    before = _previous_run(tmp_path, capsys)
    code, _, err = _run(capsys, "run", "linreg-scratch", "--out", "prev", "--resume")
    _assert_user_error(code, err, "holds a run of 'linreg', not 'linreg-scratch'")
    _unchanged(tmp_path, before)


def test_resume_refuses_a_changed_setting_but_allows_more_epochs(capsys, tmp_path):
    before = _previous_run(tmp_path, capsys)
    code, _, err = _run(capsys, "run", "linreg", "--out", "prev", "--resume", "--lr", "0.5")
    _assert_user_error(code, err, "cannot change lr when resuming")
    _unchanged(tmp_path, before)
    code, _, _ = _run(capsys, "run", "linreg", "--out", "prev", "--resume", "--epochs", "5", "--quiet")
    assert code == 0
    lines = (tmp_path / "prev/metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("argv, scheduled", [
    (["mlp", "--set", "schedule=cosine"], True),
    (["covariate-shift", "--set", "seeds=1", "--set", "max_source=50"], True),  # a fixed cosine, no setting
    (["concept-shift", "--set", "stream_length=200", "--set", "adapt_samples=20"], False),  # no schedule at all
])
def test_refused_epochs_name_the_schedule_only_when_the_run_has_one(capsys, fake_data, tmp_path, argv, scheduled):
    code, _, _ = _run(capsys, "run", *argv, "--epochs", "1", "--out", "prev", "--quiet")
    assert code == 0
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "prev").rglob("*") if p.is_file()}
    code, _, err = _run(capsys, "run", argv[0], "--out", "prev", "--resume", "--epochs", "2")
    _assert_user_error(code, err, "cannot change epochs when resuming")
    assert ("learning-rate schedule" in err) == scheduled, err
    _unchanged(tmp_path, before)


def test_fresh_run_over_an_unfinished_run_is_refused(capsys, tmp_path):
    before = _previous_run(tmp_path, capsys)
    (tmp_path / "prev/summary.json").unlink()  # as if the run had been interrupted
    before.pop(next(k for k in before if k.name == "summary.json"))
    code, _, err = _run(capsys, "run", "linreg", "--out", "prev")
    _assert_user_error(code, err, "holds an unfinished run; continue it with --resume")
    _unchanged(tmp_path, before)


def test_fresh_run_over_another_experiments_unfinished_run_says_how_to_finish_that(capsys, tmp_path):
    before = _previous_run(tmp_path, capsys)
    (tmp_path / "prev/summary.json").unlink()
    before.pop(next(k for k in before if k.name == "summary.json"))
    code, _, err = _run(capsys, "run", "activations", "--out", "prev")
    _assert_user_error(code, err, "prev holds an unfinished run of linreg; finish it with 'divelab run linreg "
                                  "--out prev --resume', or give another --out directory for activations")
    _unchanged(tmp_path, before)


def test_resume_with_another_thread_count_warns(capsys, tmp_path, monkeypatch):
    _previous_run(tmp_path, capsys)
    record = json.loads((tmp_path / "prev/config.json").read_text())
    record["threads"] = torch.get_num_threads() + 1  # as if begun with one more thread
    (tmp_path / "prev/config.json").write_text(json.dumps(record))
    code, _, err = _run(capsys, "run", "linreg", "--out", "prev", "--resume", "--epochs", "4", "--quiet")
    assert code == 0
    assert f"warning: this run began with {record['threads']} threads and continues with " in err


def test_help_settings_lists_defaults(capsys):
    code, out, _ = _run(capsys, "run", "mlp", "--help-settings")
    assert code == 0 and "hidden = 256" in out and "data_dir = None" in out


def test_help_settings_shows_a_list_setting_as_set_takes_it(capsys):
    code, out, _ = _run(capsys, "run", "polyfit", "--help-settings")
    assert code == 0 and "  degrees = 1,3,19\n" in out and "  momentum = 0.9\n" in out


def test_list_settings_from_the_command_line(capsys, tmp_path):
    out = tmp_path / "p"
    code, _, _ = _run(capsys, "run", "polyfit", "--quiet", "--epochs", "1", "--out", str(out),
                      "--set", "degrees=[1,3]", "--set", "num_test=20")
    assert code == 0 and json.loads((out / "config.json").read_text())["settings"]["degrees"] == [1, 3]
    code, _, err = _run(capsys, "run", "polyfit", "--out", str(tmp_path / "q"), "--set", "degrees=1,x")
    _assert_user_error(code, err, "degrees must be a comma-separated list of ints, e.g. 1,3,19; got '1,x'")
    code, _, err = _run(capsys, "run", "polyfit", "--out", str(tmp_path / "q"), "--set", "degrees=3,3")
    _assert_user_error(code, err, "degrees lists a value twice: 3,3")
    assert not (tmp_path / "q").exists()


def test_real_process_prints_no_traceback(tmp_path):
    src = str(Path(divelab.__file__).parents[1])  # works installed or not
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "divelab", "run", "nope"], capture_output=True, text=True,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown experiment 'nope'") and "Traceback" not in proc.stderr


def test_fresh_run_replaces_an_earlier_run_but_not_files_added_to_it(capsys, tmp_path):
    _previous_run(tmp_path, capsys)
    (tmp_path / "prev/notes.png").write_bytes(b"x")  # the user's, added after the run
    assert _run(capsys, "run", "activations", "--out", "prev", "--quiet")[0] == 0
    assert not (tmp_path / "prev/parameters.png").exists() and not (tmp_path / "prev/checkpoint").exists()
    assert (tmp_path / "prev/notes.png").read_bytes() == b"x" and (tmp_path / "prev/activations.png").exists()


def test_fresh_run_into_a_directory_that_is_not_a_run_is_refused_and_nothing_is_written(capsys, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "holiday.png").write_bytes(b"x")
    (mine / "config.json").write_text('{"mine": true}')
    code, _, err = _run(capsys, "run", "activations", "--out", "mine", "--quiet")
    _assert_user_error(code, err, "mine is not empty and holds no divelab run (config.json, holiday.png)")
    assert sorted(p.name for p in mine.iterdir()) == ["config.json", "holiday.png"]
    assert (mine / "config.json").read_text() == '{"mine": true}'


def test_empty_out_is_refused(capsys, tmp_path):
    code, _, err = _run(capsys, "run", "linreg", "--out", "", "--quiet")
    _assert_user_error(code, err, "--out is empty")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, pattern", [
    (["run", "linreg", "--seed", "-1"], "seed must be between 0 and 2**63 - 1"),
    (["run", "linreg", "--seed", "99999999999999999999999"], "seed must be between"),
    (["run", "linreg", "--device", "cuda:x"], "device must be"),
])
def test_bad_seed_and_device_are_user_errors(capsys, argv, pattern):
    code, _, err = _run(capsys, *argv)
    _assert_user_error(code, err, pattern)


def test_out_that_is_a_file_is_refused(capsys, tmp_path):
    (tmp_path / "taken").write_text("mine")
    code, _, err = _run(capsys, "run", "linreg", "--out", "taken")
    _assert_user_error(code, err, "is a file, not a directory")
    assert (tmp_path / "taken").read_text() == "mine"


def test_corrupt_checkpoint_is_an_error_and_nothing_changes(capsys, tmp_path):
    before = _previous_run(tmp_path, capsys)
    state = json.loads((tmp_path / "prev/checkpoint/state.json").read_text())
    tensors = tmp_path / "prev/checkpoint" / state["tensors"]
    tensors.write_bytes(b"not safetensors")
    before[tensors.relative_to(tmp_path)] = b"not safetensors"
    code, _, err = _run(capsys, "run", "linreg", "--out", "prev", "--resume", "--epochs", "5")
    _assert_user_error(code, err, "are damaged (their SHA-256")
    _unchanged(tmp_path, before)


def test_flipped_bytes_in_the_checkpoint_tensors_are_refused_by_name(capsys, tmp_path):
    before = _previous_run(tmp_path, capsys)
    state = json.loads((tmp_path / "prev/checkpoint/state.json").read_text())
    tensors = tmp_path / "prev/checkpoint" / state["tensors"]
    data = bytearray(tensors.read_bytes())
    data[-3] ^= 0xFF  # a weight's bytes, not the header: still valid safetensors
    tensors.write_bytes(bytes(data))
    before[tensors.relative_to(tmp_path)] = bytes(data)
    code, _, err = _run(capsys, "run", "linreg", "--out", "prev", "--resume", "--epochs", "5")
    _assert_user_error(code, err, f"checkpoint tensors {tensors.relative_to(tmp_path)} are damaged (their SHA-256")
    _unchanged(tmp_path, before)


def test_a_checkpoint_of_another_shape_is_refused_before_anything_changes(capsys, tmp_path):
    from divelab.train import checkpoint

    _previous_run(tmp_path, capsys)
    directory = tmp_path / "prev/checkpoint"
    state = checkpoint.load(directory)
    key = next(iter(state["model"]))
    shape = tuple(state["model"][key].shape)
    state["model"][key] = torch.zeros(7, 3)
    checkpoint.save(directory, state, tag="edited")
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "prev").rglob("*") if p.is_file()}
    code, _, err = _run(capsys, "run", "linreg", "--out", "prev", "--resume", "--epochs", "5")
    _assert_user_error(code, err, f"model tensor {key!r} has shape (7, 3) in the checkpoint, {shape} here")
    _unchanged(tmp_path, before)


def test_resume_cannot_shrink_epochs(capsys, tmp_path):
    before = _previous_run(tmp_path, capsys)
    code, _, err = _run(capsys, "run", "linreg", "--out", "prev", "--resume", "--epochs", "1")
    _assert_user_error(code, err, "has done 3 epochs")
    _unchanged(tmp_path, before)


def test_divergence_is_a_user_error(capsys, tmp_path):
    code, _, err = _run(capsys, "run", "linreg", "--lr", "1e30", "--out", "boom", "--quiet")
    _assert_user_error(code, err, "loss became NaN or infinite in epoch 1")
    assert "checkpoint" not in err  # none was written before the first epoch ended


def test_resume_through_the_api_matches_an_uninterrupted_run(fake_data, tmp_path):
    """The scratch SGD keeps its state in JSON only: resume must still be exact."""
    from safetensors.torch import load_file

    def weights(run_dir):
        state = json.loads((run_dir / "checkpoint/state.json").read_text())
        tensors = load_file(run_dir / "checkpoint" / state["tensors"])
        return {k: v for k, v in tensors.items() if k.startswith("s.model.")}

    divelab.run("mlp-scratch", epochs=2, out=tmp_path / "a", progress=False)
    divelab.run("mlp-scratch", epochs=1, out=tmp_path / "b", progress=False)
    result = divelab.run("mlp-scratch", epochs=2, out=tmp_path / "b", resume=True, progress=False)
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["epoch"] for r in result.history] == [1, 2]


@pytest.mark.parametrize("files, pattern", [
    ({"summary.json": '{"a": 1}'}, "holds no divelab run"),                      # JSON, but no run's config
    ({"config.json": '{"experiment": "linreg", "settings": {}}', "summary.json": '{"a": 1}'},
     "is not the summary of this linreg run"),
    ({"config.json": '{"experiment": "linreg", "settings": {}}',
      "summary.json": '{"experiment": "mlp", "seconds": 1}'}, "is not the summary of this linreg run"),
    ({"config.json": '{"experiment": "linreg", "settings": {}}'}, "a run of linreg that has not finished"),
    ({"config.json": "{broken"}, "config.json is unreadable"),
])
def test_show_requires_the_runs_own_markers(capsys, tmp_path, files, pattern):
    (tmp_path / "r").mkdir()
    for name, text in files.items():
        (tmp_path / "r" / name).write_text(text)
    code, _, err = _run(capsys, "show", "r")
    _assert_user_error(code, err, pattern)


def test_show_on_an_interrupted_run_names_its_experiment(capsys, tmp_path):
    assert _run(capsys, "run", "linreg", "--out", "r", "--quiet")[0] == 0
    (tmp_path / "r" / "summary.json").unlink()
    code, _, err = _run(capsys, "show", "r")
    _assert_user_error(code, err, "finish it with 'divelab run linreg --out r --resume'")
