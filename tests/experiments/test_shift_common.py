"""The helpers the three distribution-shift experiments share, and their place in the registry."""

from __future__ import annotations

import statistics

import pytest
import torch
from torch import nn

from divelab.config import build_config
from divelab.errors import UserError
from divelab.experiments import EXPERIMENTS
from divelab.experiments import shift_common as common
from divelab.experiments.concept_shift import ConceptShiftConfig
from divelab.experiments.covariate_shift import CovariateShiftConfig
from divelab.experiments.label_shift import LabelShiftConfig


def test_the_shift_experiments_are_registered_in_course_order():
    shift = [e.name for e in EXPERIMENTS.values() if e.topic == "shift"]
    assert shift == ["covariate-shift", "label-shift", "concept-shift"]


def test_predict_proba_in_batches_equals_one_softmax():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, common.NUM_CLASSES))
    images = torch.rand(common.EVAL_BATCH + 5, 1, 28, 28)  # two batches, the second ragged
    probs = common.predict_proba(model, images, torch.device("cpu"))
    with torch.no_grad():
        want = torch.softmax(model(images), -1)
    torch.testing.assert_close(probs, want)
    assert not model.training  # left in evaluation mode
    assert common.predict_proba(model, images[:0], torch.device("cpu")).shape == (0, common.NUM_CLASSES)


def test_mean_std_is_the_mean_and_sample_std():
    values = [0.5, 0.75, 0.25, 1.0]
    assert common.mean_std(values) == pytest.approx((statistics.fmean(values), statistics.stdev(values)))
    assert common.mean_std([0.3]) == (0.3, 0.0)


FRACTIONS = [(ConceptShiftConfig, "drift_at"), (LabelShiftConfig, "val_fraction"), (CovariateShiftConfig, "center")]


@pytest.mark.parametrize("value", [0.0, 1.0, -0.5, 1.5])
@pytest.mark.parametrize("cls, name", FRACTIONS)
def test_fraction_settings_refuse_values_outside_0_1(cls, name, value):
    with pytest.raises(UserError, match=rf"{name} must be in \(0, 1\), got {value}"):
        build_config(cls, {name: value})


@pytest.mark.parametrize("cls, name", FRACTIONS)
def test_fraction_settings_accept_values_inside_0_1(cls, name):
    for value in (1e-9, 0.5, 1 - 1e-9):
        assert getattr(build_config(cls, {name: value}), name) == value
