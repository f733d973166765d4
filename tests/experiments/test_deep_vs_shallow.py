"""deep-vs-shallow at a tiny size: a sub-run per depth and restart, the best restart reported,
sizes within the budget, the hand-built networks checked, and the settings validated."""

from __future__ import annotations

import pytest

import divelab
from divelab.errors import UserError

SMALL = {"epochs": 2, "depths": (2, 1), "restarts": 2, "budget": 40, "points": 64, "largest_m": 4}


def test_a_sub_run_per_depth_and_restart_and_the_best_restart_reported(tmp_path):
    result = divelab.run("deep-vs-shallow", out=tmp_path / "dvs", progress=False, **SMALL)
    summary = result.summary
    assert [row["depth"] for row in summary["trained"]] == [1, 2]
    for row in summary["trained"]:
        assert row["parameters"] <= 40
        assert len(row["restart_losses"]) == 2
        assert row["train_loss"] == min(row["restart_losses"])
        for restart in (1, 2):
            assert (tmp_path / "dvs" / f"metrics-depth-{row['depth']}-restart-{restart}.jsonl").is_file()
    assert summary["shallow_loss"] == summary["trained"][0]["train_loss"]
    assert summary["best_loss"] == min(row["train_loss"] for row in summary["trained"])
    assert [row["m"] for row in summary["constructions"]] == [1, 2, 3, 4]
    assert summary["construction_exact"] is True
    assert summary["deep_parameters_needed"] == 6 * 3 + 1 and summary["shallow_parameters_needed"] == 3 * 8 - 2
    for name in ("fits", "depth", "parameters"):
        assert (tmp_path / "dvs" / f"{name}.png").is_file()


@pytest.mark.parametrize("settings, message", [({"budget": 10, "depths": (1, 6)}, "budget"),
                                               ({"compositions": 0}, "compositions"),
                                               ({"depths": "0,1"}, "depths"),
                                               ({"restarts": 0}, "restarts")])
def test_bad_settings_are_user_errors(tmp_path, settings, message):
    with pytest.raises(UserError, match=message):
        divelab.run("deep-vs-shallow", out=tmp_path / "dvs", progress=False, **(SMALL | settings))
    assert not (tmp_path / "dvs").exists()
