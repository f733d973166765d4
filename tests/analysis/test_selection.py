"""The expected-maximum formulas against brute-force enumeration and Monte Carlo."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from divelab.analysis.selection import (best_of_subset_weights, expected_max_binomial, expected_max_discrete,
                                        expected_max_empirical, weighted_quantile)


def test_expected_max_discrete_equals_enumeration_of_every_draw():
    values, probs = np.array([0.1, 0.4, 0.5, 0.9]), np.array([0.4, 0.3, 0.2, 0.1])
    for n in (1, 2, 3):
        exact = sum(np.prod(probs[list(draw)]) * values[list(draw)].max()
                    for draw in itertools.product(range(4), repeat=n))
        assert expected_max_discrete(values, np.cumsum(probs), n) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_expected_max_empirical_equals_the_mean_over_all_draws_with_replacement(n):
    scores = np.array([0.3, 0.7, 0.7, 0.1, 0.55])  # ties included
    draws = itertools.product(scores, repeat=n)
    assert expected_max_empirical(scores, n) == pytest.approx(np.mean([max(d) for d in draws]), rel=1e-12)


@pytest.mark.parametrize("trials, p, n", [(50, 0.7, 20), (300, 0.8, 5), (10, 0.3, 200)])
def test_expected_max_binomial_matches_monte_carlo(trials, p, n):
    rng = np.random.default_rng(0)
    maxima = rng.binomial(trials, p, size=(20000, n)).max(axis=1) / trials
    se = maxima.std() / math.sqrt(len(maxima))
    assert abs(expected_max_binomial(trials, p, n) - maxima.mean()) < 4 * se + 1e-12


def test_expected_max_binomial_edge_cases():
    assert expected_max_binomial(300, 0.8, 1) == pytest.approx(0.8, rel=1e-12)  # one model: its mean
    assert expected_max_binomial(40, 0.0, 7) == 0.0 and expected_max_binomial(40, 1.0, 7) == 1.0
    curve = [expected_max_binomial(300, 0.75, n) for n in (1, 10, 100, 1000)]
    assert all(a < b for a, b in zip(curve, curve[1:]))  # more draws, a higher expected maximum
    with pytest.raises(ValueError):
        expected_max_binomial(0, 0.5, 3)


@pytest.mark.parametrize("m, n", [(8, 1), (8, 3), (8, 8), (6, 4)])
def test_best_of_subset_weights_equal_enumeration_of_every_subset(m, n):
    counts = np.zeros(m)
    for subset in itertools.combinations(range(m), n):
        counts[max(subset)] += 1  # rank 0 is the lowest
    np.testing.assert_allclose(best_of_subset_weights(m, n), counts / math.comb(m, n), rtol=1e-10, atol=1e-15)


def test_best_of_subset_weights_for_a_large_pool():
    w = best_of_subset_weights(1000, 500)
    assert np.isfinite(w).all() and w.sum() == pytest.approx(1.0, rel=1e-9)
    assert (w[:499] == 0).all() and w[-1] == pytest.approx(0.5)  # the best model is in half of the subsets
    np.testing.assert_allclose(best_of_subset_weights(1000, 1), np.full(1000, 1e-3))
    with pytest.raises(ValueError):
        best_of_subset_weights(5, 6)


def test_weighted_quantile_equals_numpy_on_repeated_values():
    rng = np.random.default_rng(1)
    values, counts = rng.normal(size=30), rng.integers(1, 5, size=30)
    qs = np.array([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
    expected = np.quantile(np.repeat(values, counts), qs, method="inverted_cdf")
    np.testing.assert_array_equal(weighted_quantile(values, counts, qs), expected)
