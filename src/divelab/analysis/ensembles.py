"""Ensembles of classifiers: averaged probabilities, their NLL, majority votes, bootstrap resamples.

An ensemble of K classifiers predicts the mean of its members' probabilities,

    p̄(c | x) = (1/K) Σ_k p_k(c | x),        ŷ(x) = argmax_c p̄(c | x),

and its loss is the negative log-likelihood of those averaged probabilities,
``NLL = −(1/N) Σ_i log p̄(y_i | x_i)``. Since −log is convex, Jensen's inequality gives
``−log p̄(y | x) ≤ (1/K) Σ_k −log p_k(y | x)`` for every sample: the ensemble's NLL is never
above its members' mean NLL, with equality only where the members agree on p(y | x).

Members are given as log-probabilities stacked into one tensor of shape ``(K, N, C)``
(members, samples, classes), as :func:`stacked_log_probs` returns them; the mean is taken
in log space (``logsumexp``), so a probability that underflows to 0 in one member's
float32 softmax does not make the ensemble's log-probability −∞.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def average_probabilities(log_probs: Tensor) -> Tensor:
    """``log p̄`` with ``p̄ = (1/K) Σ_k p_k``: members' log-probabilities ``(K, N, C)`` →
    the ensemble's ``(N, C)``, computed as ``logsumexp_k log p_k − log K``."""
    return torch.logsumexp(log_probs, dim=0) - math.log(log_probs.shape[0])


def nll(log_probs: Tensor, labels: Tensor) -> float:
    """Mean negative log-likelihood ``−(1/N) Σ_i log p(y_i | x_i)`` of log-probabilities ``(N, C)``."""
    return -log_probs.gather(1, labels.unsqueeze(1)).mean().item()


def majority_vote(log_probs: Tensor) -> Tensor:
    """Each member votes for its most probable class; the class with most votes wins, ties
    going to the class with the larger averaged probability p̄. ``(K, N, C)`` → ``(N,)``.

    Scored as ``votes + p̄``: if class a has more votes than class b, some member voted a,
    so its ``p_k(b) ≤ ½`` and ``p̄(b) ≤ 1 − 1/(2K) < 1``; the score thus ranks by votes
    first and breaks ties by p̄.
    """
    num_classes = log_probs.shape[-1]
    votes = F.one_hot(log_probs.argmax(-1), num_classes).sum(0)  # (N, C)
    return (votes + average_probabilities(log_probs).exp()).argmax(-1)


def accuracy(predictions: Tensor, labels: Tensor) -> float:
    """Fraction of ``predictions`` equal to ``labels``."""
    return (predictions == labels).sum().item() / max(len(labels), 1)


def ensemble_scores(log_probs: Tensor, labels: Tensor) -> dict[str, float]:
    """The ensemble of all K members in ``log_probs`` ``(K, N, C)``: accuracy and NLL of the
    averaged probabilities, and the accuracy of the majority vote."""
    mean = average_probabilities(log_probs)
    return {"acc": accuracy(mean.argmax(-1), labels), "loss": nll(mean, labels),
            "vote_acc": accuracy(majority_vote(log_probs), labels)}


@torch.inference_mode()
def stacked_log_probs(models: Sequence[nn.Module], inputs: Tensor, batch_size: int = 1000) -> Tensor:
    """Every model's ``log_softmax`` outputs on ``inputs``, in eval mode: ``(K, N, C)``.

    The inputs go through in batches, each batch through all K models, so every member sees
    the data once and nothing is done per sample.
    """
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        chunks = [torch.stack([F.log_softmax(m(x), dim=-1) for m in models])  # (K, B, C)
                  for x in inputs.split(batch_size)]
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)
    return torch.cat(chunks, dim=1).float()


def bootstrap_indices(n: int, seed: int) -> Tensor:
    """A bootstrap resample of ``n`` examples: ``n`` indices drawn uniformly from
    ``0 … n−1`` *with replacement*, the draw a function of ``seed`` alone.

    Each example is left out with probability ``(1 − 1/n)ⁿ → 1/e``, so a resample holds
    about 63.2 % of the distinct examples, some of them several times.
    """
    if n < 1:
        raise ValueError(f"a bootstrap resample needs n ≥ 1 examples, got {n}")
    return torch.randint(n, (n,), generator=torch.Generator().manual_seed(seed))
