"""Detecting and correcting distribution shift: importance weights, label-shift estimation, drift detection.

- *Covariate shift* — :func:`importance_weights`: a classifier trained to tell training
  inputs (label 0) from test inputs (label 1) estimates ``P(test|x)``; by Bayes,

      β(x) = p_test(x) / p_train(x) = (n_train / n_test) · P(test|x) / P(train|x),

  computed from its log-odds ``z(x)`` as ``(n_train / n_test) · exp(z)`` and clipped at
  ``max_weight`` (a few huge weights would otherwise dominate the weighted loss
  ``Σ_i β(x_i) ℓ(f(x_i), y_i)``). :func:`effective_sample_size` tells how many samples' worth of
  information the weights leave; :func:`roc_auc` how well the domain classifier separates the domains.
- *Label shift* — black-box shift estimation (BBSE; Lipton, Wang & Smola, 2018). With the
  joint confusion matrix of a fixed classifier on labelled source validation data,
  ``C_ij = P_source(ŷ = i, y = j)``, and its mean prediction on unlabelled target data,
  ``μ_i = P_target(ŷ = i)``, label shift (``p(x|y)`` fixed, hence ``P(ŷ|y)`` fixed) gives

      μ_i = Σ_j P(ŷ = i | y = j) q(y = j) = Σ_j C_ij w_j,   w_j = q(y = j) / p(y = j),

  so ``w = C⁻¹ μ`` and ``q(y) = w_y p(y)`` (:func:`estimate_label_shift`). When ``C`` is
  ill-conditioned (classes the classifier confuses) or the solution has negative entries
  (noise in ``μ``), non-negative least squares ``min_{w ≥ 0} ‖C w − μ‖`` is used instead.
  :func:`reweight_predictions` then corrects the classifier:
  ``p_target(y|x) ∝ w_y p_source(y|x)``.
- *Concept shift* — :class:`PageHinkley`: a sequential test for an increase in the mean of
  a stream (the error indicator of a deployed classifier); :func:`windowed_mean` for plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import nnls
from scipy.stats import rankdata
from torch import Tensor


# ---- covariate shift ---------------------------------------------------------------------------

def importance_weights(test_logit: Tensor, n_train: int, n_test: int, max_weight: float | None = None) -> Tensor:
    """``β(x) = (n_train / n_test) · exp(z(x))`` from a domain classifier's log-odds
    ``z(x) = log P(test|x) / P(train|x)``, clipped at ``max_weight`` (None: not clipped).

    The factor ``n_train / n_test`` undoes the classifier's prior odds: it saw ``n_test``
    test and ``n_train`` training inputs, so its odds are ``(n_test / n_train) · p_test(x) / p_train(x)``.
    """
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be ≥ 1, got {n_train} and {n_test}")
    if max_weight is not None and not max_weight > 0:
        raise ValueError(f"max_weight must be > 0, got {max_weight}")
    weights = torch.exp(test_logit.to(torch.float64) + np.log(n_train / n_test))
    return weights if max_weight is None else weights.clamp(max=max_weight)


def effective_sample_size(weights: Tensor) -> float:
    """Kish's effective sample size ``(Σ_i w_i)² / Σ_i w_i²``: n for equal weights, 1 if one dominates."""
    weights = weights.to(torch.float64)
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    return float(weights.sum() ** 2 / (weights * weights).sum())


def roc_auc(scores: Tensor, labels: Tensor) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random
    negative (ties count ½). By ranks (Mann–Whitney): ``(Σ_{i positive} r_i − n₊(n₊+1)/2) / (n₊ n₋)``
    with ``r`` the average ranks of all scores. Twin: sklearn.metrics.roc_auc_score.
    """
    positive = labels.bool().cpu().numpy()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0 or len(scores) != len(labels):
        raise ValueError("roc_auc needs one score per label and both positive and negative labels")
    ranks = rankdata(scores.double().cpu().numpy())  # ties get their average rank
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# ---- label shift -------------------------------------------------------------------------------

def _as_distribution(predictions: Tensor, num_classes: int) -> Tensor:
    """Hard predictions (N,) as one-hot rows, or soft ones (N, k) as they are; float64."""
    if predictions.ndim == 1:
        return torch.nn.functional.one_hot(predictions.long(), num_classes).to(torch.float64)
    if predictions.shape[1] != num_classes:
        raise ValueError(f"predictions have {predictions.shape[1]} classes, expected {num_classes}")
    return predictions.to(torch.float64)


def confusion_matrix(predictions: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """Joint confusion matrix ``C_ij = P(ŷ = i, y = j)``: ``1/n Σ_k [ŷ_k = i][y_k = j]``, shape (k, k).

    ``predictions`` are class indices (N,) or probabilities (N, k) (then ``[ŷ_k = i]`` is the
    probability of class ``i``). Its column sums are ``p(y)``, its row sums ``P(ŷ)``.
    """
    if len(predictions) != len(labels) or len(labels) == 0:
        raise ValueError(f"need as many predictions as labels (and some), got {len(predictions)} and {len(labels)}")
    onehot_labels = torch.nn.functional.one_hot(labels.long(), num_classes).to(torch.float64)
    return _as_distribution(predictions, num_classes).T @ onehot_labels / len(labels)


def mean_prediction(predictions: Tensor, num_classes: int) -> Tensor:
    """``μ_i = P(ŷ = i)``, the predicted class distribution (the naive estimate of ``q(y)``), shape (k,)."""
    if len(predictions) == 0:
        raise ValueError("need at least one prediction")
    return _as_distribution(predictions, num_classes).mean(0)


@dataclass
class LabelShiftEstimate:
    """BBSE's answer: ``w = q/p`` per class, ``q`` (sums to 1), the ``method`` that produced it
    (``"solve"``: ``C w = μ`` exactly; ``"nnls"``: non-negative least squares), ``C``'s
    condition number, and the residual ``‖C w − μ‖₂``."""

    w: Tensor
    q: Tensor
    method: str
    condition: float
    residual: float


def estimate_label_shift(confusion: Tensor, target_mean: Tensor, max_condition: float = 1e3) -> LabelShiftEstimate:
    """Black-box shift estimation: solve ``C w = μ`` for ``w = q/p`` (module docstring).

    ``confusion`` is ``C_ij = P_source(ŷ=i, y=j)`` (:func:`confusion_matrix`), ``target_mean``
    is ``μ = P_target(ŷ)`` (:func:`mean_prediction`); ``p(y)`` is ``C``'s column sums. The
    exact solution is used when ``cond(C) ≤ max_condition`` and it has no negative entry;
    otherwise ``w = argmin_{w ≥ 0} ‖C w − μ‖₂``. ``q = w ⊙ p`` is renormalised to sum to 1
    (a no-op for the exact solution, since ``Σ_i μ_i = 1``).
    """
    confusion, target_mean = confusion.to(torch.float64), target_mean.to(torch.float64)
    k = len(target_mean)
    if confusion.shape != (k, k):
        raise ValueError(f"confusion must be ({k}, {k}) to match target_mean, got {tuple(confusion.shape)}")
    p = confusion.sum(0)
    condition = float(torch.linalg.cond(confusion))  # inf for a singular matrix
    w = None
    if condition <= max_condition:
        w, method = torch.linalg.solve(confusion, target_mean), "solve"
        if (w < 0).any():
            w = None
    if w is None:
        solution, _ = nnls(confusion.cpu().numpy(), target_mean.cpu().numpy())
        w, method = torch.from_numpy(solution).to(confusion.device), "nnls"
    q = w * p
    if q.sum() <= 0:
        raise ValueError("no non-negative class weights explain the target predictions (μ is all zero?)")
    residual = float(torch.linalg.vector_norm(confusion @ w - target_mean))
    return LabelShiftEstimate(w, q / q.sum(), method, condition, residual)


def reweight_predictions(probabilities: Tensor, w: Tensor) -> Tensor:
    """Source posteriors corrected to the target's class prior: ``p_t(y|x) = w_y p_s(y|x) / Σ_j w_j p_s(j|x)``.

    Exact for the Bayes posterior under label shift, since ``p_t(y|x) ∝ p(x|y) q(y) ∝ p_s(y|x) q(y)/p(y)``.
    A row whose every class has weight 0 is left as it was.
    """
    if probabilities.shape[-1] != len(w) or (w < 0).any():
        raise ValueError(f"w must hold {probabilities.shape[-1]} non-negative class weights, got {tuple(w.shape)}")
    scaled = probabilities.to(torch.float64) * w.to(torch.float64)
    total = scaled.sum(-1, keepdim=True)
    return torch.where(total > 0, scaled / total.clamp_min(1e-300), probabilities.to(torch.float64))


# ---- concept shift -----------------------------------------------------------------------------

class PageHinkley:
    """Page–Hinkley test for an increase in the mean of a stream ``x_1, x_2, …`` (e.g. 0/1 errors).

    After each value, with ``x̄_t`` the running mean since the last reset,

        m_t = Σ_{i ≤ t} (x_i − x̄_i − δ),   M_t = min_{i ≤ t} m_i,   alarm when m_t − M_t > λ.

    While the mean is steady, ``x_i − x̄_i`` averages 0 and the ``−δ`` drift (``delta``, the
    size of change to ignore) pulls ``m`` down; after the mean rises by ``Δ > δ`` it climbs
    by about ``Δ − δ`` per value, so an alarm comes roughly ``λ / (Δ − δ)`` values after the
    change. ``threshold`` λ trades that delay against false alarms. No alarm is raised
    during the first ``min_samples`` values (the running mean is not yet meaningful). After
    an alarm the test starts afresh.
    """

    def __init__(self, delta: float = 0.005, threshold: float = 20.0, min_samples: int = 30):
        if delta < 0 or not threshold > 0 or min_samples < 0:
            raise ValueError(f"need delta ≥ 0, threshold > 0 and min_samples ≥ 0; got {delta}, {threshold}, "
                             f"{min_samples}")
        self.delta, self.threshold, self.min_samples = delta, threshold, min_samples
        self.reset()

    def reset(self) -> None:
        """Forget the stream so far (after an alarm, or after the model was adapted)."""
        self.count, self.mean, self.cumulative, self.minimum = 0, 0.0, 0.0, 0.0
        self.statistic = 0.0  # m_t − M_t of the last value fed (kept as it was when it raised an alarm)

    def update(self, x: float) -> bool:
        """Add one value; True if it raises an alarm (the test is then reset)."""
        self.count += 1
        self.mean += (x - self.mean) / self.count
        self.cumulative += x - self.mean - self.delta
        self.minimum = min(self.minimum, self.cumulative)
        statistic = self.cumulative - self.minimum
        alarm = self.count >= self.min_samples and statistic > self.threshold
        if alarm:
            self.reset()
        self.statistic = statistic
        return alarm

    def alarms(self, stream: Tensor | list[float]) -> list[int]:
        """Positions (0-based) of the values that raised an alarm, feeding the whole ``stream``."""
        values = stream.tolist() if isinstance(stream, Tensor) else list(stream)
        return [i for i, x in enumerate(values) if self.update(float(x))]


def windowed_mean(values: Tensor, window: int) -> Tensor:
    """Trailing mean ``(1/w) Σ_{i = t−w+1}^{t} x_i`` at each position ``t ≥ w − 1``, shape (N − w + 1,)."""
    if not 1 <= window <= len(values):
        raise ValueError(f"window must be in [1, {len(values)}], got {window}")
    sums = torch.cumsum(torch.cat([torch.zeros(1, dtype=torch.float64), values.to(torch.float64)]), 0)
    return (sums[window:] - sums[:-window]) / window
