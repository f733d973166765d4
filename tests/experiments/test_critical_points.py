"""critical-points end to end on a 17-parameter network: critical points found, classified by
their Hessian's eigenvalues, the switched-off saddle escaped, Lanczos checked against the exact spectrum."""

from __future__ import annotations

import json

import pytest
import torch

import divelab
from divelab.analysis import hessian as hs
from divelab.errors import UserError
from divelab.experiments import critical_points as cp

# 2 inputs → 4 tanh units → 1: 17 parameters, so exact Hessians and Lanczos with every step are cheap
TINY = {"runs": 4, "epochs": 200, "inputs": 2, "hidden": 4, "teacher_hidden": 6, "samples": 60,
        "escape_train_steps": 60, "lanczos_steps": 17}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cp") / "run"
    return divelab.run("critical-points", out=out, progress=False, **TINY)


def test_every_run_reports_a_critical_point_and_its_hessian(run):
    s = run.summary
    rows = s["runs"]
    assert len(rows) == TINY["runs"] and s["parameters"] == 17
    assert [r["adam_steps"] for r in rows] == sorted(r["adam_steps"] for r in rows)  # 0 … epochs
    assert rows[0]["adam_steps"] == 0 and rows[-1]["adam_steps"] == TINY["epochs"]
    assert s["converged_runs"] >= 1
    for r in rows:
        if r["converged"]:
            assert r["grad_norm"] <= 1e-9
        assert r["lambda_min"] <= r["lambda_max"]
        assert r["positive"] + r["negative"] <= 17
        assert 0 <= r["minimum_ratio"] <= 1 and r["minimum_ratio"] == pytest.approx(r["positive"] / 17)
    assert s["max_grad_norm"] == max(r["grad_norm"] for r in rows)


def test_classification_agrees_with_the_eigenvalue_signs(run):
    tol = cp.CriticalPointsConfig.eig_tol
    rows = run.summary["runs"]
    for r in rows:
        kind = r["classification"]
        if kind == hs.LOCAL_MINIMUM:
            assert r["lambda_min"] > tol and r["minimum_ratio"] == 1.0
        elif kind == hs.SADDLE_POINT:
            assert r["lambda_min"] < -tol and r["lambda_max"] > tol and 0 < r["minimum_ratio"] < 1
        elif kind == hs.LOCAL_MAXIMUM:
            assert r["lambda_max"] < -tol and r["minimum_ratio"] == 0.0
        elif kind == hs.DEGENERATE:
            assert r["positive"] + r["negative"] < 17
        else:
            assert kind == cp.NOT_CONVERGED and not r["converged"]
    counts = run.summary["counts"]
    assert sum(counts.values()) == len(rows)
    assert all(counts[k] == sum(r["classification"] == k for r in rows) for k in counts)
    converged = [r["minimum_ratio"] for r in rows if r["converged"]]
    assert run.summary["mean_minimum_ratio"] == pytest.approx(sum(converged) / len(converged))


def test_the_escape_lowers_the_loss_where_training_stays_stuck(run):
    s = run.summary
    assert s["saddle_grad_norm"] < 1e-12 and s["saddle_classification"] == hs.SADDLE_POINT
    assert s["saddle_lambda_min"] < 0
    assert s["saddle_loss_after"] < s["saddle_loss_before"]
    assert s["saddle_loss_predicted"] == pytest.approx(s["saddle_loss_before"] + 0.5 * s["saddle_lambda_min"]
                                                       * s["escape_step"] ** 2, abs=1e-9)
    # gradient descent at an exact critical point never moves; from the escaped point it goes on down
    assert s["loss_trained_from_saddle"] == pytest.approx(s["saddle_loss_before"], abs=1e-12)
    assert s["loss_trained_after_escape"] < s["saddle_loss_after"]


def test_lanczos_with_every_step_matches_the_exact_extremes(run):
    s = run.summary
    assert s["lanczos_steps"] == 17
    assert s["lanczos_error"] < 1e-9 * max(1.0, abs(s["exact_max"]))
    assert s["lanczos_error"] == max(s["lanczos_min_error"], s["lanczos_max_error"])


def test_figures_and_summary_file(run):
    assert {p.name for p in run.figures} == {"minimum-ratio.png", "spectrum.png", "escape.png"}
    assert json.loads((run.out_dir / "summary.json").read_text()) == run.summary


def test_switched_off_network_is_an_exact_saddle_with_known_spectrum():
    """At W = 0, v = 0, b = 0, c = mean(y)/(1 + wd): ∇L = 0 and, with s = ‖mean((y − c)·[x, 1])‖,
    the Hessian's eigenvalues are wd ± s (one pair per hidden unit), 1 + wd (output bias) and wd."""
    cfg = cp.CriticalPointsConfig(**{k: v for k, v in TINY.items()})
    gen = torch.Generator().manual_seed(3)
    x, y = cp._data(cfg, gen, torch.device("cpu"))
    model = cp._tanh_net(cfg.inputs, cfg.hidden, gen, torch.device("cpu"))
    wd = cfg.weight_decay
    f, _ = cp._objective(model, x, y, wd)
    theta = cp.switched_off(model, y, wd)
    assert float(hs.gradient(f, theta).norm()) < 1e-14
    c = float(theta[-1])
    s = float(((y - c) * torch.cat([x, torch.ones_like(y)], dim=1)).mean(0).norm())
    h = cfg.hidden
    expected = sorted([wd - s] * h + [wd + s] * h + [1 + wd] + [wd] * (17 - 2 * h - 1))
    eigenvalues, _ = hs.spectrum(hs.hessian(f, theta))
    torch.testing.assert_close(eigenvalues, torch.tensor(expected, dtype=torch.float64), atol=1e-12, rtol=0)
    assert hs.classify(eigenvalues) == hs.SADDLE_POINT


def test_runs_are_reproducible(run):
    """The same seed gives the same data, initialisation, training and critical point."""
    cfg = cp.CriticalPointsConfig(**TINY)
    gen = torch.Generator().manual_seed(cfg.seed)
    x, y = cp._data(cfg, gen, torch.device("cpu"))
    seeds = torch.randint(0, 2**62, (cfg.runs,), generator=gen).tolist()
    row, *_ = cp._run(cfg, 2, seeds[2], x, y, torch.device("cpu"))
    assert row == run.summary["runs"][2]


@pytest.mark.parametrize("setting", [{"runs": 0}, {"hidden": 0}, {"escape_step": 0.0}, {"escape_lr": 0.0},
                                     {"grad_tol": -1.0}, {"search_steps": -1}, {"lanczos_steps": 0}])
def test_bad_settings_are_user_errors(setting, tmp_path):
    with pytest.raises(UserError):
        divelab.run("critical-points", out=tmp_path / "cp", progress=False, **setting)


def test_a_decay_too_strong_for_a_saddle_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no saddle"):
        divelab.run("critical-points", out=tmp_path / "cp", progress=False, weight_decay=50.0,
                    **{**TINY, "runs": 1, "epochs": 0})
