"""Shift estimators on problems whose answers are known: importance weights of two Gaussians,
black-box shift estimation with a known confusion matrix, a drift detector on a stream with a
known change point."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.metrics import roc_auc_score

from divelab.analysis import shift
from divelab.scratch.logistic import fit_logistic


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- importance weights ------------------------------------------------------------------------

def test_weights_from_the_exact_odds_are_the_density_ratio():
    """p_train = N(0, 1), p_test = N(1, 1): β(x) = exp(x − ½). A classifier that saw n_train
    and n_test samples has log-odds log(n_test/n_train) + x − ½; the formula must undo the prior."""
    x = torch.linspace(-3, 4, 50, dtype=torch.float64)
    n_train, n_test = 3000, 1000
    logit = math.log(n_test / n_train) + x - 0.5
    torch.testing.assert_close(shift.importance_weights(logit, n_train, n_test), torch.exp(x - 0.5),
                               atol=0, rtol=1e-12)
    clipped = shift.importance_weights(logit, n_train, n_test, max_weight=5.0)
    assert clipped.max() == 5.0
    torch.testing.assert_close(clipped, torch.exp(x - 0.5).clamp(max=5.0), atol=0, rtol=1e-12)


def test_domain_classifier_recovers_the_gaussian_density_ratio():
    gen = _gen(1)
    n_train, n_test = 20000, 10000
    train = torch.randn(n_train, 1, generator=gen, dtype=torch.float64)
    test = torch.randn(n_test, 1, generator=gen, dtype=torch.float64) + 1.0
    fit = fit_logistic(torch.cat([train, test]), torch.cat([torch.zeros(n_train), torch.ones(n_test)]), l2=1e-6)
    grid = torch.linspace(-1, 2, 31, dtype=torch.float64)[:, None]
    beta = shift.importance_weights(fit.logit(grid), n_train, n_test)
    torch.testing.assert_close(beta, torch.exp(grid[:, 0] - 0.5), atol=0, rtol=0.1)
    # reweighting the training sample reproduces the test distribution's mean (1) and variance (1)
    w = shift.importance_weights(fit.logit(train), n_train, n_test)
    mean = (w * train[:, 0]).sum() / w.sum()
    var = (w * (train[:, 0] - mean) ** 2).sum() / w.sum()
    assert abs(mean - 1) < 0.05 and abs(var - 1) < 0.1


def test_importance_weights_refuse_bad_arguments():
    with pytest.raises(ValueError, match="n_train"):
        shift.importance_weights(torch.zeros(3), 0, 5)
    with pytest.raises(ValueError, match="max_weight"):
        shift.importance_weights(torch.zeros(3), 5, 5, max_weight=0.0)


def test_effective_sample_size():
    assert shift.effective_sample_size(torch.ones(50)) == pytest.approx(50)
    assert shift.effective_sample_size(torch.tensor([1e6, 1.0, 1.0])) == pytest.approx(1.0, abs=1e-5)
    assert shift.effective_sample_size(torch.tensor([2.0, 2.0, 0.0, 0.0])) == pytest.approx(2)
    with pytest.raises(ValueError):
        shift.effective_sample_size(torch.tensor([1.0, -1.0]))


def test_roc_auc_matches_sklearn_with_ties():
    gen = _gen(2)
    labels = torch.rand(300, generator=gen) < 0.4
    scores = torch.randint(0, 8, (300,), generator=gen).float() + labels.float()  # many ties
    assert shift.roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels.numpy(), scores.numpy()), abs=1e-12)
    assert shift.roc_auc(torch.tensor([0.1, 0.2, 0.8, 0.9]), torch.tensor([0, 0, 1, 1])) == 1.0
    assert shift.roc_auc(torch.ones(4), torch.tensor([0, 1, 0, 1])) == 0.5
    with pytest.raises(ValueError):
        shift.roc_auc(torch.ones(3), torch.ones(3))


# ---- label shift -------------------------------------------------------------------------------

# P(ŷ = i | y = j): a decent classifier of 3 classes; columns sum to 1
CONDITIONAL = torch.tensor([[0.8, 0.1, 0.2],
                            [0.1, 0.7, 0.1],
                            [0.1, 0.2, 0.7]], dtype=torch.float64)
P = torch.tensor([0.3, 0.3, 0.4], dtype=torch.float64)
Q = torch.tensor([0.6, 0.1, 0.3], dtype=torch.float64)


def test_confusion_matrix_and_mean_prediction():
    predictions = torch.tensor([0, 0, 1, 2, 2, 1])
    labels = torch.tensor([0, 1, 1, 2, 0, 1])
    c = shift.confusion_matrix(predictions, labels, 3)
    expected = torch.tensor([[1, 1, 0], [0, 2, 0], [1, 0, 1]], dtype=torch.float64) / 6
    torch.testing.assert_close(c, expected)
    torch.testing.assert_close(c.sum(0), torch.tensor([2, 3, 1], dtype=torch.float64) / 6)  # p(y)
    torch.testing.assert_close(shift.mean_prediction(predictions, 3), c.sum(1))  # P(ŷ)
    soft = torch.nn.functional.one_hot(predictions, 3).double()
    torch.testing.assert_close(shift.confusion_matrix(soft, labels, 3), c)
    with pytest.raises(ValueError, match="classes"):
        shift.confusion_matrix(soft, labels, 4)


def test_bbse_recovers_q_exactly_from_exact_statistics():
    confusion = CONDITIONAL * P  # C_ij = P(ŷ=i | y=j) p(y=j)
    mu = CONDITIONAL @ Q  # what the classifier predicts on the target
    estimate = shift.estimate_label_shift(confusion, mu)
    assert estimate.method == "solve" and estimate.residual < 1e-14
    torch.testing.assert_close(estimate.w, Q / P, atol=1e-12, rtol=0)
    torch.testing.assert_close(estimate.q, Q, atol=1e-12, rtol=0)
    assert estimate.condition == pytest.approx(float(torch.linalg.cond(confusion)))


def test_bbse_falls_back_to_nnls_when_two_classes_are_indistinguishable():
    """Classes 1 and 2 get the same prediction distribution: C is singular, only q₁ + q₂ is
    identifiable. NNLS still fits μ exactly with non-negative w and gets q₀ and q₁ + q₂ right."""
    conditional = CONDITIONAL.clone()
    conditional[:, 2] = conditional[:, 1]
    confusion = conditional * P
    mu = conditional @ Q
    estimate = shift.estimate_label_shift(confusion, mu)
    assert estimate.method == "nnls" and estimate.condition > 1e12
    assert (estimate.w >= 0).all() and estimate.residual < 1e-12
    assert estimate.q.sum().item() == pytest.approx(1.0)
    assert estimate.q[0].item() == pytest.approx(Q[0].item(), abs=1e-10)
    assert (estimate.q[1] + estimate.q[2]).item() == pytest.approx((Q[1] + Q[2]).item(), abs=1e-10)


def test_bbse_falls_back_when_noise_makes_a_weight_negative():
    confusion = CONDITIONAL * P
    q = torch.tensor([0.7, 0.3, 0.0], dtype=torch.float64)  # a class absent from the target
    mu = CONDITIONAL @ q + torch.tensor([0.0, 0.02, -0.02], dtype=torch.float64)  # sampling noise
    assert (torch.linalg.solve(confusion, mu) < 0).any()
    estimate = shift.estimate_label_shift(confusion, mu)
    assert estimate.method == "nnls" and (estimate.w >= 0).all()
    assert torch.linalg.vector_norm(estimate.q - q) < 0.06


def test_bbse_on_sampled_predictions_beats_the_naive_estimate():
    """Validation and target samples drawn from p and q, predictions from P(ŷ|y): the
    estimate is within sampling error of q, the mean prediction is not."""
    gen = _gen(3)

    def sample(prior, n):
        y = torch.multinomial(prior, n, replacement=True, generator=gen)
        yhat = torch.multinomial(CONDITIONAL.T[y], 1, generator=gen).squeeze(1)
        return yhat, y

    confusion = shift.confusion_matrix(*sample(P, 20000), 3)
    target_predictions, _ = sample(Q, 20000)
    mu = shift.mean_prediction(target_predictions, 3)
    estimate = shift.estimate_label_shift(confusion, mu)
    error, naive = torch.linalg.vector_norm(estimate.q - Q), torch.linalg.vector_norm(mu - Q)
    assert error < 0.03 and naive > 0.05 and error < naive / 3  # ‖P(ŷ|y) q − q‖ = 0.079


def test_estimate_label_shift_checks_shapes():
    with pytest.raises(ValueError, match="confusion"):
        shift.estimate_label_shift(torch.eye(3), torch.ones(2) / 2)


def test_reweighting_turns_the_source_posterior_into_the_target_posterior():
    """1-D Gaussian classes N(μ_y, 1) with priors p (source) and q (target): the Bayes posteriors
    are known in closed form, and re-weighting the source one by q/p gives the target one."""
    x = torch.linspace(-4, 4, 41, dtype=torch.float64)[:, None]
    likelihood = torch.exp(-0.5 * (x - torch.tensor([-1.0, 0.0, 1.5], dtype=torch.float64)) ** 2)

    def posterior(prior):
        joint = likelihood * prior
        return joint / joint.sum(1, keepdim=True)

    corrected = shift.reweight_predictions(posterior(P), Q / P)
    torch.testing.assert_close(corrected, posterior(Q), atol=1e-14, rtol=0)
    torch.testing.assert_close(shift.reweight_predictions(posterior(P), torch.ones(3)), posterior(P))
    with pytest.raises(ValueError, match="non-negative"):
        shift.reweight_predictions(posterior(P), torch.tensor([1.0, -1.0, 1.0]))


# ---- drift detection ---------------------------------------------------------------------------

def test_page_hinkley_alarm_position_on_a_noiseless_step():
    """100 zeros, then ones; δ = 0, λ = 5. After the k-th one, x − x̄ = 100/(100 + k), so m
    grows by 0.99, 0.98, …: 4.86 after five ones, 5.80 after six. The alarm is on the sixth."""
    detector = shift.PageHinkley(delta=0.0, threshold=5.0)
    assert detector.alarms([0.0] * 100 + [1.0] * 10) == [105]


def test_page_hinkley_detects_a_rise_in_the_error_rate_soon_after_it_happens():
    """Error rate 0.1, then 0.5 from position 3000: delay ≈ λ / (Δ − δ) = 20 / 0.35 ≈ 57."""
    for seed in range(5):
        gen = _gen(seed)
        errors = torch.cat([torch.rand(3000, generator=gen) < 0.1, torch.rand(2000, generator=gen) < 0.5]).float()
        alarms = shift.PageHinkley(delta=0.05, threshold=20.0).alarms(errors)
        assert alarms and 3000 <= alarms[0] < 3000 + 150, alarms


def test_page_hinkley_stays_quiet_on_a_steady_stream():
    for seed in range(5):
        errors = (torch.rand(20000, generator=_gen(seed)) < 0.15).float()
        assert shift.PageHinkley(delta=0.05, threshold=20.0).alarms(errors) == []


def test_page_hinkley_restarts_after_an_alarm():
    detector = shift.PageHinkley(delta=0.0, threshold=5.0, min_samples=0)
    alarms = detector.alarms([0.0] * 100 + [1.0] * 10)
    assert alarms == [105] and detector.count == 4  # four values since the reset
    assert detector.statistic == 0.0  # all four are ones: x − x̄ = 0 since the reset, the alarm is forgotten
    detector.reset()
    assert (detector.count, detector.statistic) == (0, 0.0)
    with pytest.raises(ValueError):
        shift.PageHinkley(threshold=0.0)


def test_windowed_mean_is_a_trailing_average():
    values = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    torch.testing.assert_close(shift.windowed_mean(values, 3),
                               torch.tensor([2 / 3, 2 / 3, 2 / 3, 1 / 3], dtype=torch.float64))
    torch.testing.assert_close(shift.windowed_mean(values, 1), values.double())
    with pytest.raises(ValueError, match="window"):
        shift.windowed_mean(values, 7)
