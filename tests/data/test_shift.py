"""Shift generators: each moves one distribution and keeps the named conditional fixed."""

from __future__ import annotations

import math

import pytest
import torch

from divelab.data import shift


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- covariate shift ---------------------------------------------------------------------------

def test_negative_is_an_involution_and_brightness_is_the_mean_intensity():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8, generator=_gen())
    assert torch.equal(shift.negative(shift.negative(images)), images)
    b = shift.brightness(images)
    torch.testing.assert_close(b, images.double().mean((1, 2)) / 255)
    torch.testing.assert_close(shift.brightness(shift.negative(images)), 1 - b)
    with pytest.raises(ValueError, match="uint8"):
        shift.negative(images.float())


def test_selection_probability_is_a_function_of_the_image():
    images = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8, generator=_gen())
    split = shift.covariate_shift(images, slope=10.0, center=0.5, generator=_gen(1))
    torch.testing.assert_close(split.p_target, torch.sigmoid(10 * (shift.brightness(split.images) - 0.5)))
    torch.testing.assert_close(torch.logit(split.p_target), shift.target_logit(split.images, 10.0, 0.5))
    assert torch.equal(split.images[split.negated], shift.negative(images[split.negated]))
    assert torch.equal(split.images[~split.negated], images[~split.negated])
    flat = shift.covariate_shift(images, slope=0.0, center=0.5, generator=_gen(1))
    assert torch.all(flat.p_target == 0.5)  # slope 0: no shift


def test_domains_are_drawn_with_the_selection_probability():
    # 20,000 images of 4 brightness levels: the target fraction of each level is σ(k (b − c))
    levels = torch.tensor([20, 100, 150, 230], dtype=torch.uint8)
    images = levels.repeat(5000)[:, None, None].expand(-1, 28, 28).contiguous()
    split = shift.covariate_shift(images, slope=8.0, center=0.5, negative_fraction=0.0, generator=_gen(2))
    assert not split.negated.any()
    for level in levels:
        chosen = split.images[:, 0, 0] == level
        p = torch.sigmoid(torch.tensor(8.0 * (level.item() / 255 - 0.5)))
        frac = split.target[chosen].double().mean()
        assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / chosen.sum())  # 5 standard errors


def test_covariate_shift_keeps_p_y_given_x():
    """Four image types, each with its own label distribution p(y|x): after the split the
    labels of each (styled) image type are distributed alike in the source and the target,
    although the types' frequencies differ greatly between the domains."""
    gen = _gen(3)
    kinds = torch.randint(0, 4, (40000,), generator=gen)
    images = torch.tensor([30, 90, 160, 220], dtype=torch.uint8)[kinds][:, None, None].expand(-1, 4, 4)
    p_y_given_kind = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.7, 0.3]])
    labels = torch.multinomial(p_y_given_kind[kinds], 1, generator=gen).squeeze(1)
    split = shift.covariate_shift(images.contiguous(), slope=6.0, center=0.5, generator=gen)
    styled = split.images[:, 0, 0]
    for value in styled.unique():
        same = styled == value
        src, tgt = labels[same & ~split.target].double(), labels[same & split.target].double()
        assert len(src) > 300 and len(tgt) > 300
        se = math.sqrt(0.25 / len(src) + 0.25 / len(tgt))
        assert abs(src.mean() - tgt.mean()) < 5 * se
    # while p(x) did move: bright images (negatives of dark ones, or bright originals) prefer the target
    assert split.target[shift.brightness(split.images) > 0.6].double().mean() > 0.8
    assert split.target[shift.brightness(split.images) < 0.4].double().mean() < 0.2


def test_covariate_shift_is_seeded_and_checks_its_fraction():
    images = torch.randint(0, 256, (100, 28, 28), dtype=torch.uint8, generator=_gen())
    a = shift.covariate_shift(images, slope=5.0, center=0.4, generator=_gen(7))
    b = shift.covariate_shift(images, slope=5.0, center=0.4, generator=_gen(7))
    assert torch.equal(a.target, b.target) and torch.equal(a.images, b.images)
    assert shift.covariate_shift(images, slope=5.0, center=0.4, negative_fraction=1.0).negated.all()
    with pytest.raises(ValueError, match="negative_fraction"):
        shift.covariate_shift(images, slope=5.0, center=0.4, negative_fraction=1.5)


# ---- label shift -------------------------------------------------------------------------------

def test_dirichlet_prior_is_a_seeded_distribution():
    q = shift.dirichlet_prior(10, 0.5, _gen(1))
    assert q.dtype == torch.float64 and q.shape == (10,) and (q >= 0).all()
    assert q.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert torch.equal(q, shift.dirichlet_prior(10, 0.5, _gen(1)))
    assert not torch.equal(q, shift.dirichlet_prior(10, 0.5, _gen(2)))
    nearly_uniform = shift.dirichlet_prior(10, 1e4, _gen(1))
    assert (nearly_uniform - 0.1).abs().max() < 0.01
    with pytest.raises(ValueError, match="alpha"):
        shift.dirichlet_prior(10, 0.0)


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 1234])
def test_class_counts_round_q_n_and_add_up(n):
    q = shift.dirichlet_prior(10, 0.7, _gen(n))
    counts = shift.class_counts(q, n)
    assert counts.sum().item() == n
    assert ((counts - q * n).abs() < 1).all()


def test_class_counts_refuses_a_non_distribution():
    with pytest.raises(ValueError, match="sums to 1"):
        shift.class_counts(torch.tensor([0.5, 0.6]), 10)
    with pytest.raises(ValueError, match="n must"):
        shift.class_counts(torch.tensor([0.5, 0.5]), -1)


def test_resample_to_prior_keeps_each_class_s_images():
    labels = torch.arange(10).repeat(100)  # 100 samples per class
    q = torch.tensor([0.4, 0.2, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.0, 0.0], dtype=torch.float64)
    pick = shift.resample_to_prior(labels, q, 200, _gen(4))
    counts = torch.bincount(labels[pick], minlength=10)
    assert torch.equal(counts, shift.class_counts(q, 200))  # the proportions asked for
    assert len(pick.unique()) == len(pick)  # enough images: no repeats
    # 0.4·500 = 200 of class 0 exceeds its 100 images: a bootstrap sample of that class only
    big = shift.resample_to_prior(labels, q, 500, _gen(5))
    assert (labels[big[labels[big] == 0]] == 0).all() and torch.bincount(labels[big], minlength=10)[0] == 200
    assert set(big[labels[big] == 0].tolist()) <= set(torch.nonzero(labels == 0).flatten().tolist())


def test_resample_to_prior_draws_uniformly_within_a_class():
    labels = torch.tensor([0] * 4 + [1] * 4)
    q = torch.tensor([0.5, 0.5], dtype=torch.float64)
    hits = torch.zeros(8)
    gen = _gen(6)
    for _ in range(1000):
        hits[shift.resample_to_prior(labels, q, 2, gen)] += 1
    # each image of a class is chosen with probability 1/4 per draw: 250 ± 5·√(1000·¼·¾)
    assert ((hits - 250).abs() < 5 * math.sqrt(1000 * 0.25 * 0.75)).all()


def test_resample_to_prior_refuses_impossible_requests():
    labels = torch.tensor([0, 0, 2])
    with pytest.raises(ValueError, match="class 1"):
        shift.resample_to_prior(labels, torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64), 4)
    with pytest.raises(ValueError, match="classes"):
        shift.resample_to_prior(labels, torch.tensor([0.5, 0.5], dtype=torch.float64), 4)


# ---- concept shift -----------------------------------------------------------------------------

def test_drifting_labels_swap_pairs_from_the_drift_on():
    labels = torch.arange(10).repeat(3)
    drifted = shift.drifting_labels(labels, 12, [(1, 8), (5, 9)])
    assert torch.equal(drifted[:12], labels[:12])
    after = labels[12:]
    expected = after.clone()
    expected[after == 1], expected[after == 8], expected[after == 5], expected[after == 9] = 8, 1, 9, 5
    assert torch.equal(drifted[12:], expected)
    assert torch.equal(shift.swap_classes(shift.swap_classes(labels, [(1, 8)]), [(1, 8)]), labels)
    assert torch.equal(shift.drifting_labels(labels, len(labels), [(1, 8)]), labels)


@pytest.mark.parametrize("pairs", [[(1, 1)], [(1, 2), (2, 3)]])
def test_swap_pairs_must_be_disjoint(pairs):
    with pytest.raises(ValueError, match="disjoint"):
        shift.swap_classes(torch.arange(5), pairs)


def test_drift_position_must_lie_in_the_stream():
    with pytest.raises(ValueError, match="drift_at"):
        shift.drifting_labels(torch.arange(5), 6, [(0, 1)])


def test_stream_order_repeats_permutations():
    order = shift.stream_order(7, 17, _gen(8))
    assert len(order) == 17
    assert sorted(order[:7].tolist()) == list(range(7)) and sorted(order[7:14].tolist()) == list(range(7))
    assert len(shift.stream_order(7, 0)) == 0
    with pytest.raises(ValueError):
        shift.stream_order(0, 5)
