"""``polyfit`` on small settings: underfit, fit and overfit on a tiny deterministic run."""

from __future__ import annotations

import json

import pytest

import divelab
from divelab.errors import UserError


def run(name, tmp_path, **settings):
    return divelab.run(name, out=tmp_path / name, progress=False, **settings)


def test_polyfit_underfits_fits_and_overfits(tmp_path):
    result = run("polyfit", tmp_path, epochs=150, num_test=300)
    s = result.summary
    assert s["degree_19_train_loss"] * 10 < s["degree_19_test_loss"]  # overfit: a wide train–test gap
    assert s["degree_1_train_loss"] > 10 * s["degree_3_train_loss"]  # underfit: even the training loss is high
    assert s["degree_1_test_loss"] > 10 * s["degree_3_test_loss"]
    assert s["degree_3_test_loss"] < s["degree_19_test_loss"]
    assert s["degree_3_train_loss"] < 4 * s["noise_loss"]  # the right model gets down to the noise
    assert len(s["degree_3_coefficients"]) == 4 and s["degree_3_coefficient_error"] < 1.0
    assert {p.name for p in result.figures} == {"losses.png", "fits.png"}
    for degree in (1, 3, 19):
        assert (tmp_path / "polyfit" / f"metrics-degree-{degree}.jsonl").is_file()


@pytest.mark.parametrize("degrees", ["-1", "1,x", "3,3", "", "1,31"])
def test_polyfit_rejects_bad_degree_lists(degrees, tmp_path):
    with pytest.raises(UserError, match="degrees"):
        run("polyfit", tmp_path, degrees=degrees)


def test_config_json_lists_the_degrees_and_a_resumed_run_compares_them_as_values(tmp_path):
    out = tmp_path / "polyfit"
    run("polyfit", tmp_path, epochs=2, num_test=50, degrees=(1, 3))
    assert json.loads((out / "config.json").read_text())["settings"]["degrees"] == [1, 3]
    state = out / "checkpoint" / "degree-1" / "state.json"
    assert json.loads(state.read_text())["state"]["meta"]["config"]["degrees"] == [1, 3]
    divelab.run("polyfit", out=out, resume=True, progress=False, epochs=3, degrees="1,3")  # the same, as text
    with pytest.raises(UserError, match="cannot change degrees when resuming"):
        divelab.run("polyfit", out=out, resume=True, progress=False, epochs=4, degrees=[1, 4])
    # a run recorded before degrees was a tuple holds the text: it is the same setting
    for path in (out / "checkpoint").glob("*/state.json"):
        doc = json.loads(path.read_text())
        doc["state"]["meta"]["config"]["degrees"] = "1,3"
        path.write_text(json.dumps(doc))
    divelab.run("polyfit", out=out, resume=True, progress=False, epochs=4, degrees=(1, 3))
