from dataclasses import dataclass
from typing import Literal

import pytest

from divelab.config import RunConfig, build_config, parse_assignments
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
