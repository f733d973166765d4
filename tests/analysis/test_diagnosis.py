"""The training guide as a function: one synthetic metric history for every branch, and its neighbours.

Each history is built to sit in one branch; the tests check the branch named first, that
the evidence quotes the run's numbers, and the boundaries that keep branches apart.
"""

import json
import math

import pytest

from divelab.analysis.diagnosis import KINDS, Comparator, Thresholds, comparators, diagnose, diagnose_run, trend


def history(train, test=None, val=None, **columns):
    """Epoch records from per-epoch lists: ``train``/``test``/``val`` losses, and any other columns."""
    records = []
    for i, loss in enumerate(train):
        r = {"epoch": i + 1, "train_loss": loss}
        for prefix, values in (("test", test), ("val", val)):
            if values is not None:
                r[f"{prefix}_loss"] = values[i]
        for key, values in columns.items():
            r[key] = values[i]
        records.append(r)
    return records


def decay(n, start, end):
    """``n`` values falling geometrically from ``start`` to ``end``."""
    return [start * (end / start) ** (i / (n - 1)) for i in range(n)]


def flat(n, value, start=None):
    """A loss that falls from ``start`` in two epochs and then stays at ``value`` (±0.1 %)."""
    start = start or 3 * value
    return [start, (start + value) / 2] + [value * (1 + 0.001 * (-1) ** i) for i in range(n - 2)]


def kind(records, **kwargs):
    return diagnose("m", records, **kwargs).finding.kind


# ---- the trend the decisions rest on ---------------------------------------------------------

def test_trend_is_the_relative_change_per_epoch():
    points = [(e, 2.0 * math.exp(-0.05 * e)) for e in range(1, 21)]
    assert trend(points) == pytest.approx(-0.05, rel=1e-9)
    assert trend(points[:2]) is None  # a curve needs 3 points


# ---- one history per branch ----------------------------------------------------------------------

def test_diverged_run_names_the_epoch_and_batch():
    records = history([2.0, 1.0, 0.8]) + [{"epoch": 4, "batch": 17, "diverged": True}]
    d = diagnose("m", records)
    assert d.finding.kind == "diverged"
    assert "epoch 4, batch 17" in d.finding.evidence[0] and "0.8" in d.finding.evidence[0]


@pytest.mark.parametrize("train", [
    [1.0, 0.6, 0.9, 0.5, 0.95, 0.6, 1.0],          # oscillating
    [1.0, 0.5, 0.4, 0.6, 0.8],                     # rising after its minimum
    [500.0, 1.7e5, 1.9, 1.8, 1.75],                # one huge jump, then stuck
])
def test_rising_or_oscillating_loss_means_the_learning_rate_is_too_high(train):
    assert kind(history(train)) == "lr-too-high"


def test_small_noise_on_a_falling_loss_is_not_oscillation():
    train = [v * (1 + 0.01 * (-1) ** i) for i, v in enumerate(decay(12, 1.0, 0.2))]
    assert kind(history(train)) != "lr-too-high"


def test_wobbles_of_a_loss_driven_near_zero_are_not_a_rise():
    """Adam memorising a small set: 1.3 → 0.004, ending at 0.005 (+35 % of the minimum, 0.1 % of the fall)."""
    train = [1.3, 0.5, 0.1, 0.02, 0.006, 0.004, 0.0052, 0.0045, 0.0051]
    assert kind(history(train, test=[0.6, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0, 1.05, 1.1])) == "overfitting"
    assert kind(history(train[:5] + [0.004, 0.1, 0.06, 0.2])) == "lr-too-high"  # 15 % of the fall given back


def test_a_spike_of_a_loss_driven_near_zero_is_not_a_jump():
    """Adam's one-epoch spike near zero (the ensemble's bagged members on an AMX Xeon): 0.0064 →
    0.0769 is 12-fold, yet 5 % of the 1.35 the loss had fallen; a many-fold rise that gives back
    a real share of the fall still counts."""
    test = [0.6, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0, 1.05, 1.1, 1.15]
    train = [1.35, 0.5, 0.1, 0.02, 0.006, 0.0025, 0.004, 0.0064, 0.0769, 0.0463]
    assert kind(history(train, test=test)) == "overfitting"
    spike = [1.35, 0.5, 0.1, 0.02, 0.006, 0.0025, 0.004, 0.0064, 0.3, 0.004]  # back down: only the jump shows
    assert kind(history(spike, test=test)) == "lr-too-high"


def test_a_loss_that_never_moves_is_not_learning():
    d = diagnose("m", history([2.303, 2.302, 2.303, 2.302], train_acc=[0.1] * 4))
    assert d.finding.kind == "not-learning" and "0.1" in d.finding.evidence[1]


def test_a_classifier_at_chance_is_not_learning():
    """Loss ln 10 with accuracy 0.1: the same probability for each of 10 classes, whatever came before."""
    d = diagnose("m", history([9.0, 3.0, 2.31, 2.303], train_acc=[0.1, 0.1, 0.1, 0.0995]))
    assert d.finding.kind == "not-learning" and "about 10 classes" in d.finding.evidence[0]
    # a small model that learns something: loss 1.84, accuracy 0.22 (exp(−1.84) = 0.16)
    assert kind(history(flat(6, 1.84), train_acc=[0.22] * 6)) == "model-bias"


def test_an_equal_model_that_fits_better_proves_nothing():
    n = 10
    dropout = history(flat(n, 0.36), test=flat(n, 0.37), train_acc=[0.95] * n)
    twin = Comparator("no-dropout", 0.32, n, parameters=1000, weight_layers=3)
    assert kind(dropout, facts={"parameters": 1000, "weight_layers": 3}, others=[twin]) == "good-fit"


def test_exploding_gradients_from_recorded_norms():
    n = 8
    peaks = [2.0] * n
    peaks[5] = 900.0
    records = history(decay(n, 1.0, 0.5), grad_norm_mean=[1.0] * n, grad_norm_max=peaks)
    d = diagnose("m", records)
    assert d.finding.kind == "exploding-gradients" and "900" in d.finding.evidence[0]
    calm = history(decay(n, 1.0, 0.5), grad_norm_mean=[1.0] * n, grad_norm_max=[3.0] * n)
    assert kind(calm) != "exploding-gradients"


def test_clipping_on_most_steps_counts_as_exploding():
    records = history(decay(6, 1.0, 0.5), clipped_fraction=[0.8] * 6)
    assert kind(records) == "exploding-gradients"


def test_vanishing_gradients_from_the_first_to_last_layer_ratio():
    records = history(flat(6, 2.0), grad_norm_ratio=[1e-5] * 6)
    d = diagnose("m", records)
    assert d.finding.kind == "vanishing-gradients"
    assert kind(history(flat(6, 2.0), grad_norm_ratio=[0.5] * 6)) != "vanishing-gradients"


def test_deeper_network_with_higher_training_loss_is_optimisation():
    deep = history(flat(10, 0.5), test=flat(10, 0.55))
    shallow = Comparator("plain-20", 0.3, 10, parameters=50_000, weight_layers=20)
    d = diagnose("plain-56", deep, facts={"parameters": 150_000, "weight_layers": 56}, others=[shallow])
    assert d.finding.kind == "optimisation"
    assert any("plain-20" in e and "0.3" in e for e in d.finding.evidence)


def test_a_better_fit_by_a_bigger_model_is_model_bias_not_optimisation():
    shallow = history(flat(10, 0.5), test=flat(10, 0.55))
    bigger = Comparator("depth-4", 0.05, 10, parameters=200, weight_layers=4)
    d = diagnose("depth-1", shallow, facts={"parameters": 199, "weight_layers": 1}, others=[bigger])
    assert d.finding.kind == "model-bias" and "depth-4" in d.finding.evidence[1]


def test_a_simpler_model_that_fits_about_as_well_decides_nothing():
    deep = history(flat(10, 0.5), test=flat(10, 0.52), train_acc=[0.95] * 10)
    close = Comparator("plain-20", 0.48, 10, parameters=50_000, weight_layers=20)
    assert kind(deep, facts={"parameters": 150_000, "weight_layers": 56}, others=[close]) == "good-fit"


def test_a_baseline_without_recorded_size_is_taken_as_simpler():
    deep = history(flat(10, 0.5))
    base = Comparator("the baseline runs/small", 0.2, 10, declared_simpler=True)
    assert kind(deep, others=[base]) == "optimisation"


def test_held_out_loss_rising_while_training_falls_is_overfitting():
    train = decay(20, 1.0, 0.01)
    test = decay(8, 1.0, 0.4) + [0.4 + 0.05 * i for i in range(1, 13)]
    d = diagnose("m", history(train, test=test), settings={"train_size": 2000, "weight_decay": 0.0, "hidden": 256})
    assert d.finding.kind == "overfitting"
    assert "epoch 8" in d.finding.evidence[0] and "rose" in d.finding.evidence[0]
    advice = "\n".join(d.finding.advice)
    assert "train_size=2000" in advice and "--set weight_decay" in advice and "hidden=256" in advice
    assert "mismatch" in d.finding.evidence[-1]  # only a test set: cannot rule mismatch out


def test_overfitting_by_the_accuracy_gap_and_remedies_already_used():
    n = 10
    records = history(flat(n, 0.05), val=flat(n, 0.06), train_acc=[0.99] * n, val_acc=[0.90] * n)
    d = diagnose("m", records, settings={"dropout": 0.5, "augment": True})
    assert d.finding.kind == "overfitting"
    advice = "\n".join(d.finding.advice)
    assert "dropout: the run sets dropout=0.5" in advice and "data augmentation: the run sets" in advice
    assert not any("mismatch" in e for e in d.finding.evidence)  # a validation set was there


def test_validation_fine_and_test_bad_is_mismatch():
    n = 10
    records = history(flat(n, 0.1), val=flat(n, 0.11), test=flat(n, 0.6),
                      train_acc=[0.97] * n, val_acc=[0.96] * n, test_acc=[0.80] * n)
    d = diagnose("m", records)
    assert d.finding.kind == "mismatch" and "0.96" in d.finding.evidence[0]


def test_a_validation_score_chosen_among_many_is_optimistic():
    summary = {"val_acc": 0.86, "test_acc": 0.80, "models_compared": 1000, "val_size": 300, "test_size": 10000}
    d = diagnose_run("model-selection", {}, summary, {})[0]
    assert d.finding.kind == "validation-overfit" and "1,000" in d.finding.title


def test_one_model_differing_within_the_noise_of_small_sets_is_no_disagreement():
    summary = {"val_acc": 0.86, "test_acc": 0.80, "val_size": 40, "test_size": 40}
    assert diagnose_run("x", {}, summary, {})[0].finding.kind == "good-fit"
    assert diagnose_run("x", {}, {**summary, "val_size": 4000, "test_size": 4000}, {})[0].finding.kind == "mismatch"


def test_still_falling_at_the_end_is_undertrained():
    d = diagnose("m", history(decay(10, 1.0, 0.5), test=decay(10, 1.1, 0.55)), settings={"epochs": 10},
                 command="divelab run mlp --out runs/mlp")
    assert d.finding.kind == "undertrained"
    assert "7.4 %/epoch" in d.finding.evidence[0]  # (0.5)^(1/9) per epoch
    assert "divelab run mlp --out runs/mlp --resume --epochs 20" in d.finding.advice[0]


def test_a_run_with_a_schedule_is_told_to_start_afresh():
    d = diagnose("m", history(decay(10, 1.0, 0.5)), settings={"epochs": 10, "schedule": "cosine"})
    assert "start afresh" in d.finding.advice[0]


def test_too_few_epochs_to_judge():
    assert kind(history([1.0, 0.8])) == "undertrained"


def test_early_stopping_is_not_undertraining():
    records = history(decay(10, 1.0, 0.5), test=decay(10, 1.1, 0.55), best_epoch=list(range(1, 11)))
    assert kind(records) != "undertrained"


def test_flat_and_inaccurate_is_model_bias():
    n = 10
    d = diagnose("m", history(flat(n, 1.8), test=flat(n, 1.85), train_acc=[0.3] * n))
    assert d.finding.kind == "model-bias" and "0.3" in d.finding.evidence[1]


def test_flat_regression_with_nothing_to_compare_is_a_plateau():
    assert kind(history(flat(10, 0.005), test=flat(10, 0.0052))) == "plateau"


def test_flat_and_accurate_with_no_gap_is_a_good_fit():
    n = 10
    records = history(flat(n, 0.1), test=flat(n, 0.11), train_acc=[0.97] * n, test_acc=[0.96] * n)
    assert kind(records) == "good-fit"


def test_every_branch_is_reached_by_some_test():
    """KINDS is the guide's order; this file names every one of them in an assertion."""
    source = open(__file__, encoding="utf-8").read()
    assert all(f'"{k}"' in source for k in KINDS)


# ---- whole runs ----------------------------------------------------------------------------------

def test_a_run_of_several_models_compares_them_with_each_other():
    n = 10
    histories = {"plain-20": history(flat(n, 0.25), test=flat(n, 0.3), train_acc=[0.91] * n),
                 "plain-56": history(flat(n, 0.45), test=flat(n, 0.48), train_acc=[0.84] * n)}
    summary = {"models": [{"name": "plain-20", "parameters": 1000, "weight_layers": 20},
                          {"name": "plain-56", "parameters": 3000, "weight_layers": 56}]}
    found = {d.model: d.finding.kind for d in diagnose_run("training-guide", histories, summary, {})}
    assert found["plain-56"] == "optimisation"
    assert found["plain-20"] != "optimisation"


def test_the_main_metrics_file_is_named_after_the_experiment_and_serialises():
    (d,) = diagnose_run("mlp", {"": history(decay(10, 1.0, 0.5))}, {}, {"epochs": 10})
    assert d.model == "mlp" and d.epochs == 10
    record = json.loads(json.dumps(d.to_dict()))
    assert record["diagnosis"] == "undertrained" and record["evidence"] and record["advice"]


def test_diverged_models_are_not_comparators():
    histories = {"a": history([1.0, 0.5]) + [{"epoch": 3, "diverged": True}], "b": history([1.0, 0.6, 0.5])}
    assert [c.label for c in comparators(histories, {})] == ["b"]


def test_thresholds_change_the_decision():
    records = history(decay(10, 1.0, 0.5), test=decay(10, 1.1, 0.55))
    assert kind(records, thresholds=Thresholds(improving=0.1)) != "undertrained"
