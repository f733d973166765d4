"""``divelab diagnose`` on the default runs of the training guide's own experiments, on the real data.

Each experiment is built to show one branch of the guide; its run, read back from disk,
must be diagnosed in that branch. Full default runs: marked slow (a few minutes each).
"""

from __future__ import annotations

import pytest

import divelab
from divelab.report.diagnose import diagnose_dir

pytestmark = pytest.mark.slow


def diagnosed(name: str, tmp_path) -> dict[str, str]:
    divelab.run(name, out=tmp_path / name, progress=False)
    _, found = diagnose_dir(tmp_path / name)
    return {d.model: d.finding.kind for d in found}


def test_training_guide_deeper_plain_network_is_an_optimisation_failure(tmp_path):
    kinds = diagnosed("training-guide", tmp_path)
    assert kinds["plain-56"] == "optimisation"
    assert kinds["residual-56"] != "optimisation" and kinds["plain-20"] != "optimisation"


def test_model_selection_overfits_the_validation_set(tmp_path):
    assert diagnosed("model-selection", tmp_path) == {"model-selection": "validation-overfit"}


def test_deep_vs_shallow_the_deep_narrow_networks_are_optimisation_failures(tmp_path):
    kinds = diagnosed("deep-vs-shallow", tmp_path)
    deepest = {name: kind for name, kind in kinds.items() if name.startswith("depth-6-")}
    assert len(deepest) == 3 and set(deepest.values()) == {"optimisation"}, kinds


def test_ensemble_members_overfit(tmp_path):
    kinds = diagnosed("ensemble", tmp_path)
    assert kinds and set(kinds.values()) == {"overfitting"}, kinds
