"""``kfold`` on small settings: cross-validation with scikit-learn's folds chooses the decay."""

from __future__ import annotations

import numpy as np
import pytest

import divelab
from divelab.errors import UserError


def run(name, tmp_path, **settings):
    return divelab.run(name, out=tmp_path / name, progress=False, **settings)


@pytest.mark.parametrize("shuffle", [True, False])
def test_kfold_chooses_decay_with_scikit_learn_folds(shuffle, tmp_path):
    result = run("kfold", tmp_path, epochs=30, lambdas="0,30", folds=4, shuffle=shuffle)
    s = result.summary
    assert s["folds_match_sklearn"] is True
    assert s["fold_sizes"] == [5, 5, 5, 5]
    for lam in ("0", "30"):
        assert len(s[f"fold_val_loss_lambda_{lam}"]) == 4
    means = s["cv_val_loss_mean"]
    assert means == pytest.approx([np.mean(s["fold_val_loss_lambda_0"]), np.mean(s["fold_val_loss_lambda_30"])],
                                  rel=1e-3)
    assert s["chosen_lambda"] == s["lambdas"][int(np.argmin(means))]
    assert s["chosen_lambda"] == 30  # cross-validation rejects the unregularised model ...
    assert s["test_loss"] < 0.1  # ... and the retrained model generalises (λ = 0 scores ≈ 70 here)
    assert [p.name for p in result.figures] == ["cross-validation.png"]


@pytest.mark.parametrize("settings", [{"folds": 1}, {"folds": 21}, {"seed": -1}])
def test_kfold_rejects_impossible_folds(settings, tmp_path):
    with pytest.raises(UserError):
        run("kfold", tmp_path, **settings)
