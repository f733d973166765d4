"""The run directory's manifest: a fresh run deletes the previous run's files and nothing else,
and refuses a directory that holds no run."""

from __future__ import annotations

import json

import pytest

from divelab import rundir
from divelab.errors import UserError
from divelab.lock import LOCK_FILE


def tree(directory):
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def make(directory, *names):
    for name in names:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(name)


def test_a_finished_runs_listed_files_go_and_everything_else_stays(tmp_path):
    make(tmp_path, "kept.txt")
    kept = rundir.clear_for_fresh_run(tmp_path)
    assert kept == ["kept.txt"]
    make(tmp_path, "config.json", "summary.json", "curves.png", "checkpoint/model.safetensors")
    rundir.write_manifest(tmp_path, kept, finished=True)
    make(tmp_path, "notes.txt")  # added after the run finished
    assert rundir.clear_for_fresh_run(tmp_path) == ["kept.txt", "notes.txt"]
    assert tree(tmp_path) == [rundir.MANIFEST, "kept.txt", "notes.txt"]
    assert not (tmp_path / "checkpoint").exists()  # emptied by the run's files going: removed


def test_an_unfinished_run_leaves_only_what_was_there_before_it(tmp_path):
    make(tmp_path, "kept.txt")
    rundir.write_manifest(tmp_path, rundir.clear_for_fresh_run(tmp_path), finished=False)
    make(tmp_path, "config.json", "metrics.jsonl")  # written before a crash, not yet in the manifest
    assert rundir.clear_for_fresh_run(tmp_path) == ["kept.txt"]


def test_a_manifest_naming_paths_outside_the_run_is_not_followed(tmp_path):
    run, outside = tmp_path / "run", tmp_path / "precious.txt"
    run.mkdir()
    outside.write_text("mine")
    (run / rundir.MANIFEST).write_text(json.dumps({"files": ["../precious.txt"], "kept": [], "finished": True}))
    rundir.clear_for_fresh_run(run)
    assert outside.read_text() == "mine"


def test_a_run_from_before_manifests_loses_only_its_own_file_names(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"experiment": "mlp", "settings": {}}))
    make(tmp_path, "summary.json", "metrics.jsonl", "metrics-a.jsonl", "curves.png", "checkpoint/state.json",
         "notes.txt")
    assert rundir.clear_for_fresh_run(tmp_path) == ["notes.txt"]


def test_check_fresh_refuses_only_a_non_empty_directory_that_is_not_a_run(tmp_path):
    rundir.check_fresh(tmp_path / "new")  # does not exist: fine
    (tmp_path / LOCK_FILE).write_text("1")
    rundir.check_fresh(tmp_path)  # only a lock: fine
    make(tmp_path, "a", "b", "c", "d", "e")
    with pytest.raises(UserError, match=r"holds no divelab run \(a, b, c and 2 more\)"):
        rundir.check_fresh(tmp_path)
    rundir.write_manifest(tmp_path, ["a", "b", "c", "d", "e"], finished=True)
    rundir.check_fresh(tmp_path)  # a run directory (whose files are all kept): fine


def test_a_corrupt_manifest_is_no_manifest(tmp_path):
    (tmp_path / rundir.MANIFEST).write_text("{not json")
    assert rundir.read_manifest(tmp_path) is None
    make(tmp_path, "x")
    with pytest.raises(UserError, match="holds no divelab run"):
        rundir.check_fresh(tmp_path)
