"""Twin tests for the K-fold indices against scikit-learn's ``KFold``, and their properties."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import KFold

from divelab.scratch.kfold import fold_sizes, kfold_indices

pytestmark = pytest.mark.twin

CASES = [(2, 2), (3, 2), (5, 5), (10, 2), (10, 3), (10, 10), (11, 4), (17, 5), (20, 5), (23, 6), (100, 7), (101, 10)]


def sklearn_folds(n, k, shuffle, seed):
    return list(KFold(n_splits=k, shuffle=shuffle, random_state=seed).split(np.zeros((n, 1))))


def assert_equal_folds(mine, theirs):
    assert len(mine) == len(theirs)
    for j, ((train, val), (their_train, their_val)) in enumerate(zip(mine, theirs)):
        assert train.dtype == val.dtype == torch.int64
        np.testing.assert_array_equal(train.numpy(), their_train, err_msg=f"fold {j}: train indices")
        np.testing.assert_array_equal(val.numpy(), their_val, err_msg=f"fold {j}: validation indices")


@pytest.mark.parametrize("n, k", CASES)
def test_equal_to_sklearn_without_shuffle(n, k):
    assert_equal_folds(kfold_indices(n, k), sklearn_folds(n, k, False, None))


@pytest.mark.parametrize("n, k", CASES)
@pytest.mark.parametrize("seed", [0, 1, 42, 2**32 - 1])
def test_equal_to_sklearn_with_shuffle(n, k, seed):
    assert_equal_folds(kfold_indices(n, k, shuffle=True, seed=seed), sklearn_folds(n, k, True, seed))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(2, n))),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_equal_to_sklearn_for_any_size(n_k, shuffle, seed):
    n, k = n_k
    seed = seed if shuffle else None
    assert_equal_folds(kfold_indices(n, k, shuffle, seed), sklearn_folds(n, k, shuffle, seed))


@pytest.mark.parametrize("n, k", CASES)
@pytest.mark.parametrize("shuffle, seed", [(False, None), (True, 3)])
def test_every_index_validated_exactly_once_and_never_trained_on_then(n, k, shuffle, seed):
    folds = kfold_indices(n, k, shuffle, seed)
    validated = torch.cat([val for _, val in folds])
    assert torch.equal(validated.sort().values, torch.arange(n))  # each index once
    for train, val in folds:
        assert not set(train.tolist()) & set(val.tolist())
        assert torch.equal(torch.cat([train, val]).sort().values, torch.arange(n))
        assert torch.equal(train, train.sort().values) and torch.equal(val, val.sort().values)


@pytest.mark.parametrize("n, k", CASES)
def test_fold_sizes_first_n_mod_k_folds_one_larger(n, k):
    sizes = [len(val) for _, val in kfold_indices(n, k)]
    assert sizes == fold_sizes(n, k) == [n // k + 1] * (n % k) + [n // k] * (k - n % k)


def test_without_shuffle_folds_are_contiguous_blocks():
    folds = kfold_indices(11, 4)
    assert [val.tolist() for _, val in folds] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]
    assert folds[1][0].tolist() == [0, 1, 2, 6, 7, 8, 9, 10]


def test_shuffled_folds_depend_on_the_seed():
    a = kfold_indices(30, 3, shuffle=True, seed=0)
    b = kfold_indices(30, 3, shuffle=True, seed=1)
    assert any(not torch.equal(va, vb) for (_, va), (_, vb) in zip(a, b))
    assert all(torch.equal(va, vb) for (_, va), (_, vb) in zip(a, kfold_indices(30, 3, shuffle=True, seed=0)))


@pytest.mark.parametrize("n, k", [(10, 1), (10, 0), (10, -2), (3, 4), (0, 2)])
def test_rejects_impossible_fold_counts(n, k):
    with pytest.raises(ValueError, match="k"):
        kfold_indices(n, k)


def test_rejects_non_integer_counts_and_a_seed_without_shuffle():
    with pytest.raises(TypeError):
        kfold_indices(10, 2.0)
    with pytest.raises(ValueError, match="shuffle"):
        kfold_indices(10, 2, shuffle=False, seed=0)
