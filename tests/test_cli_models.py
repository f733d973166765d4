"""``divelab list --models``: the model registry on the command line, as a table or JSON."""

import json

import pytest

from divelab.cli import main
from divelab.models.registry import KIND_SIGNATURES, MODELS, list_models

pytestmark = pytest.mark.cli


def test_models_table_lists_every_model_with_its_cpu_default_grouped_by_kind(capsys):
    assert main(["list", "--models"]) == 0
    out = capsys.readouterr().out.splitlines()
    groups = [[]]
    for line in out:
        if line:
            groups[-1].append(line)
        else:
            groups.append([])
    assert [g[0].split(":")[0] for g in groups] == list(KIND_SIGNATURES)  # one section per kind, its signature
    for kind, group in zip(KIND_SIGNATURES, groups):
        assert group[0] == f"{kind}: {KIND_SIGNATURES[kind]}"
        assert group[1].split()[:3] == ["model", "CPU", "default"]
        assert [line.split()[0] for line in group[2:]] == list_models(kind)
    resnet = next(line for line in out if line.startswith("resnet "))
    assert "input_size=28, width=0.125, stem=small" in resnet and "96 px" in resnet and "1,958,656" in resnet
    lstm = next(line for line in out if line.startswith("lstm-lm "))
    assert "cell=lstm, hidden_size=256" in lstm and "32 tokens" in lstm


def test_models_json_carries_both_settings_and_the_cost(capsys):
    assert main(["list", "--models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(MODELS)
    by_name = {r["name"]: r for r in rows}
    lenet = by_name["lenet"]
    assert lenet["cpu"] == {"input_size": 28, "width": 1.0} and lenet["course"] == {"input_size": 28, "width": 1.0}
    assert lenet["cpu_parameters"] == 61_706 and lenet["cpu_macs_per_image"] == 416_520
    assert lenet["kind"] == "cnn" and lenet["example"] == "1×28×28 image" and lenet["cpu_macs_per_example"] == 416_520
    assert all(r["cpu_macs_per_example"] > 0 and r["cpu_parameters"] > 0 and r["section"] for r in rows)
    assert all(("cpu_macs_per_image" in r) == (r["kind"] in ("cnn", "image")) for r in rows)
    transformer = by_name["transformer"]
    assert transformer["kind"] == "translation" and transformer["cpu"]["d_model"] == 128
    assert transformer["example"] == "12 → 10 tokens"


def test_listing_the_models_leaves_the_global_random_state_alone(capsys):
    import torch

    before = torch.random.get_rng_state()
    assert main(["list", "--models", "--json"]) == 0
    assert torch.equal(torch.random.get_rng_state(), before)


def test_plain_list_still_lists_experiments(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "linreg" in out and "MACs/ex" not in out  # the experiments, not the model table


def test_unknown_list_flag_is_still_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["list", "--modles"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and err[0].startswith("error: ")
