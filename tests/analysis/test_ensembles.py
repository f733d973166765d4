"""Ensemble pieces: averaged probabilities and their NLL (against brute force and Jensen),
the majority vote on constructed cases, batching through all members, bootstrap draws."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from divelab.analysis.ensembles import (accuracy, average_probabilities, bootstrap_indices, ensemble_scores,
                                        majority_vote, nll, stacked_log_probs)


def random_log_probs(k: int, n: int, c: int, seed: int, scale: float = 3.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.log_softmax(scale * torch.randn(k, n, c, generator=g), dim=-1)


def log_of(probs: list[list[float]]) -> torch.Tensor:
    return torch.tensor(probs, dtype=torch.float64).log()


@pytest.mark.parametrize("k, n, c", [(1, 5, 3), (4, 50, 10), (7, 9, 2)])
def test_average_is_the_log_of_the_mean_probability(k, n, c):
    lp = random_log_probs(k, n, c, seed=k + n).double()
    brute = lp.exp().mean(0).log()  # (1/K) Σ_k p_k, then log
    torch.testing.assert_close(average_probabilities(lp), brute, rtol=0, atol=1e-12)
    assert torch.allclose(average_probabilities(lp).exp().sum(-1), torch.ones(n, dtype=torch.float64))


def test_nll_is_minus_the_mean_log_probability_of_the_label():
    lp = log_of([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
    assert nll(lp, torch.tensor([0, 2])) == pytest.approx(-(math.log(0.5) + math.log(0.1)) / 2, abs=1e-12)


def test_identical_members_make_the_member():
    member = random_log_probs(1, 40, 10, seed=3)
    labels = torch.randint(10, (40,), generator=torch.Generator().manual_seed(0))
    ensemble = average_probabilities(member.expand(5, -1, -1))
    torch.testing.assert_close(ensemble, member[0], rtol=0, atol=1e-6)
    assert nll(ensemble, labels) == pytest.approx(nll(member[0], labels), abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_ensemble_nll_is_at_most_the_mean_member_nll(seed):
    """Jensen: −log of the mean probability ≤ the mean of −log, per sample and so on average."""
    lp = random_log_probs(6, 300, 10, seed=seed).double()
    labels = torch.randint(10, (300,), generator=torch.Generator().manual_seed(seed))
    mean_member = sum(nll(member, labels) for member in lp) / len(lp)
    assert nll(average_probabilities(lp), labels) < mean_member  # strict: the members differ
    per_sample = -average_probabilities(lp).gather(1, labels[:, None]).squeeze(1)
    per_member = -lp.gather(2, labels[None, :, None].expand(6, -1, 1)).squeeze(2)  # (K, N)
    assert bool((per_sample <= per_member.mean(0) + 1e-12).all())


def test_a_member_sure_of_the_wrong_class_does_not_make_the_ensemble_infinite():
    """float32 softmax underflows to 0 beyond ~100 nats; the mean is taken in log space."""
    sure = F.log_softmax(torch.tensor([[[200.0, 0.0]]]), dim=-1)  # p(class 1) = e^-200: 0 in float32
    unsure = F.log_softmax(torch.tensor([[[0.0, 0.0]]]), dim=-1)
    ensemble = average_probabilities(torch.cat([sure, unsure]))
    assert sure.exp()[0, 0, 1] == 0
    assert ensemble[0, 1].item() == pytest.approx(math.log(0.25), abs=1e-6)  # (0 + ½) / 2


def test_majority_vote_follows_the_votes_not_the_mean():
    # members 1, 2 vote class 0 narrowly; member 3 is sure of class 1: p̄ favours class 1, votes class 0
    lp = log_of([[[0.55, 0.45]], [[0.55, 0.45]], [[0.01, 0.99]]])
    assert average_probabilities(lp).argmax(-1).item() == 1
    assert majority_vote(lp).item() == 0


def test_a_tied_vote_goes_to_the_larger_mean_probability():
    lp = log_of([[[0.6, 0.3, 0.1]], [[0.05, 0.9, 0.05]]])  # one vote each for classes 0 and 1
    assert majority_vote(lp).item() == 1  # p̄ = (0.325, 0.6, 0.075)
    lp = log_of([[[0.9, 0.05, 0.05]], [[0.3, 0.6, 0.1]]])
    assert majority_vote(lp).item() == 0


def test_ensemble_scores_score_the_averaged_probabilities_and_the_vote():
    lp = random_log_probs(5, 200, 4, seed=9)
    labels = torch.randint(4, (200,), generator=torch.Generator().manual_seed(1))
    scores = ensemble_scores(lp, labels)
    mean = lp.exp().mean(0)
    assert scores["acc"] == pytest.approx((mean.argmax(-1) == labels).double().mean().item(), abs=1e-12)
    assert scores["loss"] == pytest.approx(-mean[torch.arange(200), labels].log().mean().item(), abs=1e-5)
    votes = torch.stack([(lp.argmax(-1) == c).sum(0) for c in range(4)], dim=-1)  # (N, C) by brute force
    unanimous = votes.max(-1).values == 5
    assert bool((majority_vote(lp)[unanimous] == votes.argmax(-1)[unanimous]).all())
    assert scores["vote_acc"] == accuracy(majority_vote(lp), labels)


def test_stacked_log_probs_batch_all_members_at_once():
    torch.manual_seed(0)
    models = [nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.5), nn.Linear(8, 3)) for _ in range(3)]
    models[1].eval()
    x = torch.randn(23, 6)
    stacked = stacked_log_probs(models, x, batch_size=5)  # 5 batches, the last one short
    assert stacked.shape == (3, 23, 3)
    for m, out in zip(models, stacked):
        m.eval()
        torch.testing.assert_close(out, F.log_softmax(m(x), dim=-1))  # eval mode: dropout off
    torch.testing.assert_close(stacked, stacked_log_probs(models, x, batch_size=1000))
    models[0].train()
    stacked_log_probs(models, x)
    assert models[0].training and not models[1].training  # each model's mode comes back


def test_bootstrap_is_reproducible_and_draws_with_replacement():
    a, b = bootstrap_indices(1000, seed=5), bootstrap_indices(1000, seed=5)
    assert torch.equal(a, b)
    assert not torch.equal(a, bootstrap_indices(1000, seed=6))
    assert a.shape == (1000,) and a.dtype == torch.int64
    assert int(a.min()) >= 0 and int(a.max()) < 1000
    assert a.unique().numel() < 1000  # some drawn twice: with replacement (a permutation would hold all)


def test_bootstrap_leaves_out_a_fraction_one_over_e():
    n = 20000
    distinct = bootstrap_indices(n, seed=0).unique().numel() / n
    assert distinct == pytest.approx(1 - (1 - 1 / n) ** n, abs=0.01)  # ≈ 0.632; its std here is ≈ 0.002
    counts = torch.bincount(bootstrap_indices(n, seed=1), minlength=n).double()
    assert counts.mean().item() == 1.0 and counts.var().item() == pytest.approx(1 - 1 / n, abs=0.05)  # Binomial(n, 1/n)


def test_bootstrap_rejects_an_empty_set():
    with pytest.raises(ValueError):
        bootstrap_indices(0, seed=0)
