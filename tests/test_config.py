import json
import typing
from dataclasses import dataclass, fields
from typing import Literal

import pytest

from divelab.config import (Bounds, RunConfig, bounds_of, build_config, field_types, parse_assignments, parse_setting,
                            setting, to_dict)
from divelab.errors import UserError


@dataclass
class _Config(RunConfig):
    hidden: int = 4
    path: str | None = None
    flag: bool = False
    mode: Literal["a", "b"] = "a"


def test_strings_are_parsed_to_field_types():
    cfg = build_config(_Config, {"hidden": "8", "lr": "0.5", "flag": "yes", "path": "x.txt", "mode": "b"})
    assert (cfg.hidden, cfg.lr, cfg.flag, cfg.path, cfg.mode) == (8, 0.5, True, "x.txt", "b")
    assert build_config(_Config, {"path": "none"}).path is None


def test_python_values_are_checked():
    assert build_config(_Config, {"epochs": 3, "lr": 1}).lr == 1.0
    with pytest.raises(UserError, match="hidden must be an integer"):
        build_config(_Config, {"hidden": 2.5})
    with pytest.raises(UserError, match="flag must be true or false"):
        build_config(_Config, {"flag": "maybe"})


@pytest.mark.parametrize("settings, message", [
    ({"hiddne": "3"}, "unknown setting 'hiddne'.*known settings: .*hidden"),
    ({"hidden": "three"}, "hidden must be an integer"),
    ({"lr": "0"}, "lr must be a positive number"),
    ({"lr": "-1"}, "lr must be a positive number"),
    ({"lr": "nan"}, "lr must be a finite number"),
    ({"batch_size": "0"}, "batch_size must be ≥ 1"),
    ({"epochs": "-1"}, "epochs must be ≥ 1"),
    ({"mode": "c"}, "mode must be one of a, b"),
    ({"device": "tpu"}, "device must be"),
])
def test_bad_values_are_user_errors(settings, message):
    with pytest.raises(UserError, match=message):
        build_config(_Config, settings)


def test_parse_assignments():
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    for bad in ("novalue", "=3"):
        with pytest.raises(UserError, match="key=value"):
            parse_assignments([bad])


# ---- tuple settings and bounds declared on the fields ----------------------------------------

@dataclass
class _Lists(RunConfig):
    degrees: tuple[int, ...] = setting((1, 3, 19), ge=0, le=30, distinct=True)
    lambdas: tuple[float, ...] = (0.0, 0.5)
    names: tuple[Literal["a", "b", "c"], ...] = setting(("a", "b"), distinct=True)
    momentum: float = setting(0.9, ge=0, lt=1)
    train_size: int = setting(0, ge=0, note="0 = all of them")


@dataclass
class _Child(_Lists):
    momentum: float = 0.5  # a new default keeps the inherited bounds


@pytest.mark.parametrize("text", ["1,3,19", "[1,3,19]", " [1, 3 ,19] ", "1,3,19,", "(1,3,19)"])
def test_tuple_settings_parse_from_text(text):
    assert build_config(_Lists, {"degrees": text}).degrees == (1, 3, 19)


def test_tuple_settings_take_tuples_or_lists_from_python():
    cfg = build_config(_Lists, {"degrees": [2, 4], "lambdas": (1, 2.5), "names": ["c"]})
    assert (cfg.degrees, cfg.lambdas, cfg.names) == ((2, 4), (1.0, 2.5), ("c",))
    assert all(type(v) is float for v in cfg.lambdas)
    assert build_config(_Lists, {"lambdas": "0,1e-3"}).lambdas == (0.0, 0.001)


@pytest.mark.parametrize("settings, message", [
    ({"degrees": "1,x"}, "degrees must be a comma-separated list of ints, e.g. 1,3,19; got '1,x'"),
    ({"degrees": "1.5"}, "degrees must be a comma-separated list of ints"),
    ({"degrees": ""}, "degrees must list at least one value"),
    ({"degrees": " , "}, "degrees must list at least one value"),
    ({"degrees": []}, "degrees must list at least one value"),
    ({"degrees": [1, "x"]}, "degrees must be an integer"),
    ({"degrees": [True]}, "degrees must be int"),
    ({"degrees": "3,3"}, "degrees lists a value twice: 3,3"),
    ({"degrees": (1, 31)}, r"degrees values must be in \[0, 30\], got 1,31"),
    ({"lambdas": "0,nan"}, "lambdas must list finite numbers"),
    ({"lambdas": [0, float("inf")]}, "lambdas must be a finite number"),
    ({"lambdas": "0,a"}, "lambdas must be a comma-separated list of floats"),
    ({"names": "a,d"}, "names must list some of a, b, c; got 'a,d'"),
    ({"names": "a,a"}, "names lists a value twice"),
    ({"momentum": 1.0}, r"momentum must be in \[0, 1\), got 1.0"),
    ({"momentum": "-0.1"}, r"momentum must be in \[0, 1\)"),
    ({"train_size": -1}, r"train_size must be ≥ 0 \(0 = all of them\), got -1"),
])
def test_bad_lists_and_bounds_are_one_line_user_errors(settings, message):
    with pytest.raises(UserError, match=message) as info:
        build_config(_Lists, settings)
    assert "\n" not in str(info.value)


def test_bounds_are_inherited_by_a_field_with_a_new_default():
    assert build_config(_Child, {}).momentum == 0.5
    with pytest.raises(UserError, match=r"momentum must be in \[0, 1\)"):
        build_config(_Child, {"momentum": 1.5})
    assert bounds_of(_Child, "momentum") == Bounds(ge=0, lt=1) and bounds_of(_Child, "lambdas") is None


def test_bounds_describe_their_interval():
    assert [Bounds(**b).describe() for b in ({"ge": 1}, {"gt": 0}, {"le": 5}, {"lt": 2}, {"gt": 0, "le": 1},
                                             {"ge": 0, "lt": 1})] == ["≥ 1", "> 0", "≤ 5", "< 2", "in (0, 1]",
                                                                      "in [0, 1)"]
    assert not Bounds(ge=0).holds(float("nan"))
    with pytest.raises(TypeError):
        Bounds(ge=0, gt=0)


def test_tuples_are_json_lists_in_the_record_and_tuples_again_when_read_back():
    cfg = build_config(_Lists, {"degrees": "2,5"})
    record = json.loads(json.dumps(to_dict(cfg)))
    assert record["degrees"] == [2, 5] and record["names"] == ["a", "b"]
    assert build_config(_Lists, record) == cfg
    assert parse_setting(_Lists, "degrees", [2, 5]) == (2, 5) == parse_setting(_Lists, "degrees", "2,5")


def test_every_experiment_default_round_trips_through_config_json():
    """The defaults validate, survive the JSON round trip, and a float tuple holds floats
    (an int in it would print as 1, not 1.0, in sub-run names)."""
    from divelab.experiments import EXPERIMENTS

    for exp in EXPERIMENTS.values():
        default = exp.config()
        default.validate()
        assert build_config(exp.config, json.loads(json.dumps(to_dict(default)))) == default, exp.name
        for f in fields(exp.config):
            item = typing.get_args(field_types(exp.config)[f.name])
            if item and item[-1] is Ellipsis and item[0] in (int, float):
                assert all(type(v) is item[0] for v in getattr(default, f.name)), (exp.name, f.name)
