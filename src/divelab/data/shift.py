"""Distribution-shift generators on image data sets (Fashion-MNIST): each keeps one conditional fixed.

- *Covariate shift* (``p(x)`` changes, ``p(y|x)`` fixed) — :func:`covariate_shift`: a pool of
  images, half of them turned into photographic negatives (a "style" drawn independently of
  the label), is split into a source and a target domain by a selection that looks only at
  the image: ``P(target | x) = σ(k (b(x) − c))`` with ``b(x)`` the mean brightness. Because
  the selection variable ``s`` depends on ``x`` alone, ``P(s | x, y) = P(s | x)`` and by Bayes
  ``p(y | x, s) = p(y | x)``: both domains keep the pool's ``p(y|x)``, while ``p(x)`` moves
  (the target holds mostly negatives, the source mostly originals).
- *Label shift* (``p(y)`` changes, ``p(x|y)`` fixed) — :func:`dirichlet_prior` draws a class
  distribution ``q``, :func:`resample_to_prior` picks ``round(q_y n)`` images of each class
  ``y``, uniformly among that class's images: ``p(x|y)`` is the data set's.
- *Concept shift* (``p(y|x)`` changes) — :func:`drifting_labels`: a stream whose labelling
  rule swaps pairs of classes from a given position on (the images are untouched).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


def negative(images: Tensor) -> Tensor:
    """Photographic negative of uint8 images: ``255 − x`` (a style that keeps the label)."""
    if images.dtype != torch.uint8:
        raise ValueError(f"negative expects uint8 images, got {images.dtype}")
    return 255 - images


def brightness(images: Tensor) -> Tensor:
    """Mean intensity of each uint8 image in [0, 1]: ``b(x) = mean_ij x_ij / 255``, shape (N,)."""
    return images.flatten(1).to(torch.float64).mean(1) / 255.0


def target_probability(images: Tensor, slope: float, center: float) -> Tensor:
    """``P(target | x) = σ(slope · (b(x) − center))``: the selection, a function of the image alone."""
    return torch.sigmoid(slope * (brightness(images) - center))


def target_logit(images: Tensor, slope: float, center: float) -> Tensor:
    """``log P(target|x) / P(source|x) = slope · (b(x) − center)``, the selection's log-odds."""
    return slope * (brightness(images) - center)


@dataclass
class CovariateShift:
    """A pool of images split into two domains by a selection on the image alone.

    ``images`` (N, H, W) uint8 after the style (``negated`` says which were turned into
    negatives), ``target`` whether each image went to the target domain, ``p_target`` the
    probability it had of going there, ``P(target | x)``.
    """

    images: Tensor
    negated: Tensor
    target: Tensor
    p_target: Tensor


def covariate_shift(images: Tensor, *, slope: float, center: float, negative_fraction: float = 0.5,
                    generator: torch.Generator | None = None) -> CovariateShift:
    """Style a pool (each image a negative with probability ``negative_fraction``, independently
    of everything else), then send each image to the target domain with probability
    ``σ(slope (b(x) − center))`` and to the source otherwise.

    The labels are never looked at, so ``p(y|x)`` is the same in both domains (module docstring);
    with ``slope = 0`` the split is random and there is no shift.
    """
    if not 0 <= negative_fraction <= 1:
        raise ValueError(f"negative_fraction must be in [0, 1], got {negative_fraction}")
    negated = torch.rand(len(images), generator=generator) < negative_fraction
    styled = torch.where(negated[:, None, None], negative(images), images)
    p_target = target_probability(styled, slope, center)
    target = torch.rand(len(images), generator=generator, dtype=torch.float64) < p_target
    return CovariateShift(styled, negated, target, p_target)


def dirichlet_prior(num_classes: int, alpha: float, generator: torch.Generator | None = None) -> Tensor:
    """A random class distribution ``q ~ Dirichlet(α, …, α)`` (float64, sums to 1).

    Small ``α`` (0.3) gives a few dominant classes, large ``α`` (100) nearly uniform ones.
    Drawn by NumPy (torch's Dirichlet takes no generator) from a seed taken from ``generator``.
    """
    if num_classes < 1 or not alpha > 0:
        raise ValueError(f"need num_classes ≥ 1 and alpha > 0, got {num_classes} and {alpha}")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    q = np.random.default_rng(seed).dirichlet(np.full(num_classes, float(alpha)))
    return torch.from_numpy(q / q.sum())


def class_counts(q: Tensor, n: int) -> Tensor:
    """``n`` split into integer class counts as close as possible to ``q · n`` (largest remainder).

    ``counts_y = ⌊q_y n⌋``, and the ``n − Σ⌊q_y n⌋`` left over go one each to the classes with
    the largest fractional parts; ``|counts_y − q_y n| < 1`` and ``Σ counts = n``.
    """
    q = torch.as_tensor(q, dtype=torch.float64)
    if q.ndim != 1 or (q < 0).any() or not torch.isclose(q.sum(), torch.tensor(1.0, dtype=torch.float64)):
        raise ValueError("q must be a vector of non-negative probabilities that sums to 1")
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    exact = q * n
    counts = exact.floor().to(torch.int64)
    left = n - int(counts.sum())
    if left > 0:
        counts[torch.argsort(exact - counts, descending=True)[:left]] += 1
    return counts


def resample_to_prior(labels: Tensor, q: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """Indices of ``n`` samples whose class proportions are ``q`` (:func:`class_counts`), shuffled.

    Class ``y``'s ``counts_y`` samples are drawn uniformly from the samples labelled ``y``:
    without replacement while the class has enough of them, with replacement (a bootstrap
    sample of the same class) when it has fewer. Either way ``p(x|y)`` is unchanged.
    """
    counts = class_counts(q, n)
    if len(counts) <= int(labels.max()):
        raise ValueError(f"q has {len(counts)} classes but the labels go up to {int(labels.max())}")
    chosen = []
    for y, count in enumerate(counts.tolist()):
        members = torch.nonzero(labels == y).flatten()
        if count == 0:
            continue
        if len(members) == 0:
            raise ValueError(f"q asks for {count} samples of class {y}, which has none")
        if count <= len(members):
            pick = torch.randperm(len(members), generator=generator)[:count]
        else:
            pick = torch.randint(0, len(members), (count,), generator=generator)
        chosen.append(members[pick])
    indices = torch.cat(chosen) if chosen else torch.zeros(0, dtype=torch.int64)
    return indices[torch.randperm(len(indices), generator=generator)]


def swap_classes(labels: Tensor, pairs: Sequence[tuple[int, int]]) -> Tensor:
    """``labels`` with the classes of each pair ``(a, b)`` exchanged: a ↦ b, b ↦ a."""
    seen: set[int] = set()
    for a, b in pairs:
        if a == b or a in seen or b in seen:
            raise ValueError(f"swap pairs must be disjoint pairs of two different classes, got {list(pairs)}")
        seen |= {a, b}
    out = labels.clone()
    for a, b in pairs:
        out[labels == a], out[labels == b] = b, a
    return out


def drifting_labels(labels: Tensor, drift_at: int, pairs: Sequence[tuple[int, int]]) -> Tensor:
    """Labels of a stream whose rule changes at position ``drift_at``: the original labels
    before it, those with the ``pairs`` swapped from it on (concept shift: the same image
    gets another label)."""
    if not 0 <= drift_at <= len(labels):
        raise ValueError(f"drift_at must be in [0, {len(labels)}], got {drift_at}")
    out = labels.clone()
    out[drift_at:] = swap_classes(labels[drift_at:], pairs)
    return out


def stream_order(num_items: int, length: int, generator: torch.Generator | None = None) -> Tensor:
    """Indices of a stream of ``length`` items drawn from ``num_items``: one random permutation
    after another, so no item repeats before every item has been seen."""
    if num_items < 1 or length < 0:
        raise ValueError(f"need num_items ≥ 1 and length ≥ 0, got {num_items} and {length}")
    passes = -(-length // num_items)
    return torch.cat([torch.randperm(num_items, generator=generator) for _ in range(passes)]
                     or [torch.zeros(0, dtype=torch.int64)])[:length]
