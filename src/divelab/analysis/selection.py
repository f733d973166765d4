"""The best of many noisy scores: order statistics of model selection by validation score.

Choosing the model with the highest validation score among N makes that score optimistic:
the maximum of N noisy numbers is high partly by luck. These functions give what to
expect, exactly (no Monte Carlo):

- :func:`expected_max_discrete`: ``E[max of N iid draws]`` of any discrete distribution,
  from ``P(max ≤ v) = F(v)^N``;
- :func:`expected_max_empirical`: the same for draws (with replacement) from a list of M scores;
- :func:`expected_max_binomial`: pure noise, N models of one true accuracy p scored on
  n examples (each score ``Binomial(n, p) / n``);
- :func:`best_of_subset_weights`: which of M ranked models is the best of a random
  N-subset (drawn without replacement), for the exact mean and spread of a selection;
- :func:`weighted_quantile`: quantiles of such a weighted choice.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln
from scipy.stats import binom


def expected_max_discrete(values: ArrayLike, cdf: ArrayLike, n: int) -> float:
    """``E[max of n iid draws]`` of a distribution on the ascending support ``values``
    with ``cdf[j] = F(v_j) = P(X ≤ v_j)``:

        E[max] = Σ_j v_j [F(v_j)^n − F(v_{j−1})^n],    F(v_0) = 0,

    since ``P(max ≤ v) = F(v)^n``, so ``P(max = v_j)`` is the difference of two such terms."""
    v, F = np.asarray(values, dtype=np.float64), np.clip(np.asarray(cdf, dtype=np.float64), 0.0, 1.0)
    if n < 1 or v.shape != F.shape or v.ndim != 1 or not len(v):
        raise ValueError(f"need n ≥ 1 and one cdf value per support value, got n={n}, shapes {v.shape}, {F.shape}")
    powers = F ** n
    return float(v @ np.diff(powers, prepend=0.0))


def expected_max_empirical(scores: ArrayLike, n: int) -> float:
    """``E[max of n draws with replacement]`` from M scores, sorted ascending as ``x_(1) ≤ … ≤ x_(M)``:

        E[max] = Σ_i x_(i) [(i/M)^n − ((i−1)/M)^n]."""
    x = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    return expected_max_discrete(x, np.arange(1, len(x) + 1) / len(x), n)


def expected_max_binomial(trials: int, p: float, n: int) -> float:
    """``E[max of n scores]`` when each score is ``Binomial(trials, p) / trials`` (n models of
    the same true accuracy p, each scored on its own luck on ``trials`` examples):

        E[max] = Σ_{k=0}^{trials} (k / trials) [F(k)^n − F(k−1)^n],    F = the Binomial(trials, p) cdf."""
    if trials < 1 or not 0.0 <= p <= 1.0:
        raise ValueError(f"need trials ≥ 1 and 0 ≤ p ≤ 1, got trials={trials}, p={p}")
    k = np.arange(trials + 1)
    return expected_max_discrete(k / trials, binom.cdf(k, trials, p), n)


def best_of_subset_weights(m: int, n: int) -> np.ndarray:
    """``w_i = P(the best of a random n-subset of m ranked models is the i-th lowest)``:

        w_i = C(i−1, n−1) / C(m, n),    i = 1 … m

    (the subset must hold model i and n−1 of the i−1 below it). Computed with log-gamma,
    so m and n may be large; ``w`` sums to 1 and is 0 for i < n."""
    if not 1 <= n <= m:
        raise ValueError(f"need 1 ≤ n ≤ m, got n={n}, m={m}")
    i = np.arange(1, m + 1)
    below = i - 1
    with np.errstate(invalid="ignore"):
        log_w = (gammaln(below + 1) - gammaln(n) - gammaln(below - n + 2)) \
            - (gammaln(m + 1) - gammaln(n + 1) - gammaln(m - n + 1))
    return np.where(i >= n, np.exp(np.where(i >= n, log_w, 0.0)), 0.0)


def weighted_quantile(values: ArrayLike, weights: ArrayLike, q: ArrayLike) -> np.ndarray:
    """The ``q``-quantiles of the discrete distribution putting mass ``weights`` on ``values``:
    for each q, the smallest value v with ``P(X ≤ v) ≥ q`` (the lower quantile)."""
    v, w = np.asarray(values, dtype=np.float64).ravel(), np.asarray(weights, dtype=np.float64).ravel()
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    cum /= cum[-1]
    idx = np.searchsorted(cum, np.asarray(q, dtype=np.float64) - 1e-12, side="left")
    return v[order][np.minimum(idx, len(v) - 1)]
