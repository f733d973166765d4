"""``divelab list --models``: the model registry on the command line, as a table or JSON."""

import json

import pytest

from divelab.cli import main
from divelab.models.registry import MODELS

pytestmark = pytest.mark.cli


def test_models_table_lists_every_model_with_its_cpu_default(capsys):
    assert main(["list", "--models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["model", "CPU", "default"]
    assert [line.split()[0] for line in out[1:]] == list(MODELS)
    resnet = next(line for line in out if line.startswith("resnet "))
    assert "input_size=28, width=0.125, stem=small" in resnet and "96 px" in resnet


def test_models_json_carries_both_settings_and_the_cost(capsys):
    assert main(["list", "--models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(MODELS)
    lenet = rows[0]
    assert lenet["cpu"] == {"input_size": 28, "width": 1.0} and lenet["course"] == {"input_size": 28, "width": 1.0}
    assert lenet["cpu_parameters"] == 61_706 and lenet["cpu_macs_per_image"] == 416_520
    assert all(r["cpu_macs_per_image"] > 0 and r["section"] for r in rows)


def test_plain_list_still_lists_experiments(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "linreg" in out and "MMAC/img" not in out  # the experiments, not the model table


def test_unknown_list_flag_is_still_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["list", "--modles"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and err[0].startswith("error: ")
